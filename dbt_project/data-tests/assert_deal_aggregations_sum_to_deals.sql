-- Each aggregation type (daily, weekly, monthly) adds up to the deals mart:
-- the same total deal size in the base currency and the same number of
-- deals with a size.
with

deal_totals as (
    select
        coalesce(sum(deal_size_base), 0) as total_deal_size,
        count(deal_size_base) as deal_count
    from {{ ref('deals') }}
),

aggregation_totals as (
    select
        aggregation_type,
        sum(total_deal_size) as total_deal_size,
        sum(deal_count) as deal_count
    from {{ ref('deal_aggregations') }}
    group by aggregation_type
),

expected_types as (
    select 'daily' as aggregation_type
    union all
    select 'weekly' as aggregation_type
    union all
    select 'monthly' as aggregation_type
),

compared as (
    select
        expected_types.aggregation_type,
        deal_totals.total_deal_size as deals_size,
        deal_totals.deal_count as deals_count,
        coalesce(aggregation_totals.total_deal_size, 0) as aggregated_size,
        coalesce(aggregation_totals.deal_count, 0) as aggregated_count
    from expected_types
    cross join deal_totals
    left join aggregation_totals
        on expected_types.aggregation_type = aggregation_totals.aggregation_type
)

select
    aggregation_type,
    aggregated_size,
    aggregated_count,
    deals_size,
    deals_count
from compared
where
    aggregated_size <> deals_size
    or aggregated_count <> deals_count

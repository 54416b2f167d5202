{#-
    Total deal size and number of sized deals per account and period
    (daily, weekly from Monday, monthly), periods cut in var
    `reporting_time_zone`. A table rebuilt in full at every build: the
    incremental version it replaced cost more than this rebuild at
    1,000,000 and 10,000,000 deals (figures in the model's description).
    The deals are summed per account and local day once; weeks and months
    add up those days (macro roll_up_days).
-#}
{%- set time_zone = var('reporting_time_zone') -%}

with

deals as (
    select * from {{ ref('deals') }}
),

sized_deals as (
    select
        account_id,
        cast({{ utc_to_local('created_at', time_zone) }} as date) as deal_date,
        deal_size_base
    from deals
    where deal_size_base is not null
),

days as (
    select
        account_id,
        deal_date,
        sum(deal_size_base) as total_deal_size,
        count(*) as deal_count
    from sized_deals
    group by account_id, deal_date
),

final as (
    {{ roll_up_days(
        'days', ['total_deal_size', 'deal_count'],
        [money_type(), 'integer']
    ) }}
)

select * from final

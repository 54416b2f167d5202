{#- One row: the funnel now and over all time, and this month's figures. -#}
with

deals_enhanced as (
    select * from {{ ref('deals_enhanced') }}
),

deals as (
    select
        stage_category,
        deal_size_base,
        probability_percent,
        sales_cycle_days,
        created_date,
        close_date,
        {{ as_of_date() }} as as_of_date
    from deals_enhanced
),

totals as (
    select
        count(*) as deal_count,
        sum(case when stage_category = 'open' then 1 else 0 end)
            as open_deal_count,
        sum(
            case
                when stage_category = 'open'
                    then deal_size_base
            end
        ) as open_pipeline_value,
        sum(
            case
                when stage_category = 'open'
                    then deal_size_base * probability_percent
            end
        ) as weighted_pipeline_percent,
        sum(case when {{ is_won('stage_category') }} then 1 else 0 end)
            as won_deal_count,
        sum(
            case
                when {{ is_won('stage_category') }}
                    then deal_size_base
            end
        ) as bookings,
        count(
            case
                when {{ is_won('stage_category') }}
                    then deal_size_base
            end
        ) as sized_won_deal_count,
        sum(
            case
                when {{ is_won('stage_category') }}
                    then sales_cycle_days
            end
        ) as won_sales_cycle_days,
        sum(case when {{ is_lost('stage_category') }} then 1 else 0 end)
            as lost_deal_count,
        sum(
            case
                when {{ is_lost('stage_category') }}
                    then deal_size_base
            end
        ) as lost_value,
        sum(
            case
                when
                    {{ dbt.date_trunc('month', 'created_date') }}
                    = {{ dbt.date_trunc('month', 'as_of_date') }}
                    then 1
                else 0
            end
        ) as created_this_month,
        sum(
            case
                when
                    {{ is_won('stage_category') }}
                    and {{ dbt.date_trunc('month', 'close_date') }}
                    = {{ dbt.date_trunc('month', 'as_of_date') }}
                    then 1
                else 0
            end
        ) as won_this_month,
        sum(
            case
                when
                    {{ is_won('stage_category') }}
                    and {{ dbt.date_trunc('month', 'close_date') }}
                    = {{ dbt.date_trunc('month', 'as_of_date') }}
                    then deal_size_base
            end
        ) as bookings_this_month,
        sum(
            case
                when
                    {{ is_lost('stage_category') }}
                    and {{ dbt.date_trunc('month', 'close_date') }}
                    = {{ dbt.date_trunc('month', 'as_of_date') }}
                    then 1
                else 0
            end
        ) as lost_this_month,
        {{ as_of_date() }} as as_of_date
    from deals
),

final as (
    select
        as_of_date,
        cast(deal_count as integer) as deal_count,
        cast(coalesce(open_deal_count, 0) as integer) as open_deal_count,
        cast(coalesce(open_pipeline_value, 0) as {{ money_type() }})
            as open_pipeline_value,
        cast(
            coalesce(weighted_pipeline_percent, 0) * 0.01 as {{ money_type() }}
        ) as weighted_pipeline_value,
        cast(coalesce(won_deal_count, 0) as integer) as won_deal_count,
        cast(coalesce(bookings, 0) as {{ money_type() }}) as bookings,
        cast(coalesce(lost_deal_count, 0) as integer) as lost_deal_count,
        cast(coalesce(lost_value, 0) as {{ money_type() }}) as lost_value,
        {{ win_rate('coalesce(won_deal_count, 0)',
            'coalesce(lost_deal_count, 0)') }} as win_rate,
        {{ ratio('bookings', 'sized_won_deal_count') }}
            as average_won_deal_size,
        {{ ratio('won_sales_cycle_days', 'won_deal_count') }}
            as average_sales_cycle_days,
        cast(coalesce(created_this_month, 0) as integer)
            as deals_created_this_month,
        cast(coalesce(won_this_month, 0) as integer) as won_deals_this_month,
        cast(coalesce(bookings_this_month, 0) as {{ money_type() }})
            as bookings_this_month,
        cast(coalesce(lost_this_month, 0) as integer)
            as lost_deals_this_month,
        {{ win_rate('coalesce(won_this_month, 0)',
            'coalesce(lost_this_month, 0)') }} as win_rate_this_month
    from totals
)

select * from final

{#-
    Per owner and month (reporting time zone): what closed in the month
    (by close date), the open pipeline expected to close in it, and the
    owner's activities in it.
-#}
with

deals_enhanced as (
    select * from {{ ref('deals_enhanced') }}
),

owners as (
    select * from {{ ref('stg_freshsales__owners') }}
),

sales_activities as (
    select * from {{ ref('sales_activities') }}
),

appointments as (
    select * from {{ ref('appointments') }}
),

tasks as (
    select * from {{ ref('tasks') }}
),

-- unassigned deals are owner 0, so every key column is set
deals as (
    select
        stage_category,
        deal_size_base,
        sales_cycle_days,
        close_date,
        expected_close_date,
        coalesce(owner_id, 0) as owner_id
    from deals_enhanced
),

closed as (
    select
        owner_id,
        cast({{ dbt.date_trunc('month', 'close_date') }} as date)
            as month_start,
        sum(case when {{ is_won('stage_category') }} then 1 else 0 end)
            as won_deal_count,
        sum(case when {{ is_lost('stage_category') }} then 1 else 0 end)
            as lost_deal_count,
        sum(
            case when {{ is_won('stage_category') }} then deal_size_base end
        ) as bookings,
        sum(
            case when {{ is_lost('stage_category') }} then deal_size_base end
        ) as lost_value,
        count(
            case when {{ is_won('stage_category') }} then deal_size_base end
        ) as sized_won_deal_count,
        sum(
            case when {{ is_won('stage_category') }} then sales_cycle_days end
        ) as won_sales_cycle_days
    from deals
    where close_date is not null
    group by
        owner_id,
        cast({{ dbt.date_trunc('month', 'close_date') }} as date)
),

open_pipeline as (
    select
        owner_id,
        cast({{ dbt.date_trunc('month', 'expected_close_date') }} as date)
            as month_start,
        count(*) as open_deal_count,
        sum(deal_size_base) as open_pipeline_value
    from deals
    where stage_category = 'open' and expected_close_date is not null
    group by
        owner_id,
        cast({{ dbt.date_trunc('month', 'expected_close_date') }} as date)
),

-- activities on the local day they took place (tasks: were completed)
activity_days as (
    select
        owner_id,
        {{ local_date('starts_at') }} as activity_date,
        1 as sales_activity,
        0 as appointment,
        0 as completed_task
    from sales_activities
    where starts_at is not null
    union all
    select
        owner_id,
        {{ local_date('starts_at') }} as activity_date,
        0 as sales_activity,
        1 as appointment,
        0 as completed_task
    from appointments
    where starts_at is not null
    union all
    select
        owner_id,
        {{ local_date('completed_at') }} as activity_date,
        0 as sales_activity,
        0 as appointment,
        1 as completed_task
    from tasks
    where completed_at is not null
),

activities as (
    select
        coalesce(owner_id, 0) as owner_id,
        cast({{ dbt.date_trunc('month', 'activity_date') }} as date)
            as month_start,
        sum(sales_activity) as sales_activity_count,
        sum(appointment) as appointment_count,
        sum(completed_task) as completed_task_count
    from activity_days
    group by
        coalesce(owner_id, 0),
        cast({{ dbt.date_trunc('month', 'activity_date') }} as date)
),

owner_months as (
    select
        owner_id,
        month_start
    from closed
    union
    select
        owner_id,
        month_start
    from open_pipeline
    union
    select
        owner_id,
        month_start
    from activities
),

final as (
    select
        owner_months.owner_id,
        cast(
            {{ owner_name('owner_months.owner_id', 'owners') }}
            as {{ varchar_type() }}
        ) as owner_name,
        owner_months.month_start,
        cast(coalesce(closed.won_deal_count, 0) as integer)
            as won_deal_count,
        cast(coalesce(closed.bookings, 0) as {{ money_type() }}) as bookings,
        cast(coalesce(closed.lost_deal_count, 0) as integer)
            as lost_deal_count,
        cast(coalesce(closed.lost_value, 0) as {{ money_type() }})
            as lost_value,
        {{ win_rate('coalesce(closed.won_deal_count, 0)',
            'coalesce(closed.lost_deal_count, 0)') }} as win_rate,
        {{ ratio('closed.bookings', 'closed.sized_won_deal_count') }}
            as average_won_deal_size,
        {{ ratio('closed.won_sales_cycle_days', 'closed.won_deal_count') }}
            as average_sales_cycle_days,
        cast(coalesce(open_pipeline.open_deal_count, 0) as integer)
            as open_deal_count,
        cast(
            coalesce(open_pipeline.open_pipeline_value, 0)
            as {{ money_type() }}
        ) as open_pipeline_value,
        cast(coalesce(activities.sales_activity_count, 0) as integer)
            as sales_activity_count,
        cast(coalesce(activities.appointment_count, 0) as integer)
            as appointment_count,
        cast(coalesce(activities.completed_task_count, 0) as integer)
            as completed_task_count
    from owner_months
    left join owners
        on owner_months.owner_id = owners.id
    left join closed
        on
            owner_months.owner_id = closed.owner_id
            and owner_months.month_start = closed.month_start
    left join open_pipeline
        on
            owner_months.owner_id = open_pipeline.owner_id
            and owner_months.month_start = open_pipeline.month_start
    left join activities
        on
            owner_months.owner_id = activities.owner_id
            and owner_months.month_start = activities.month_start
)

select * from final

{#-
    Open deals per day, pipeline and stage, counted with events instead of
    deals x days: each live version of a deal adds itself (+1 and its
    amount) to its stage on the local day it became current and removes
    itself on the day it stopped being current; a running sum over the days
    gives the deals in the stage at the end of each day.
-#}
with

versions as (
    select * from {{ ref('int_deal_versions') }}
),

pipelines as (
    select * from {{ ref('stg_freshsales__deal_pipelines') }}
),

calendar as (
    select date_day from {{ ref('metricflow_time_spine') }}
),

events as (
    select
        {{ local_date('effective_from') }} as date_day,
        coalesce(deal_pipeline_id, 0) as deal_pipeline_id,
        deal_stage,
        stage_category,
        1 as deal_delta,
        coalesce(deal_size_base, 0) as value_delta,
        case when starts_visit then 1 else 0 end as entered,
        case when starts_visit then deal_size_base end
            as entered_value
    from versions
    union all
    select
        {{ local_date('effective_to') }} as date_day,
        coalesce(deal_pipeline_id, 0) as deal_pipeline_id,
        deal_stage,
        stage_category,
        -1 as deal_delta,
        -coalesce(deal_size_base, 0) as value_delta,
        0 as entered,
        null as entered_value
    from versions
    where effective_to is not null
),

daily_events as (
    select
        date_day,
        deal_pipeline_id,
        deal_stage,
        stage_category,
        sum(deal_delta) as deal_delta,
        sum(value_delta) as value_delta,
        sum(entered) as deals_entered,
        coalesce(sum(entered_value), 0) as entered_value
    from events
    group by date_day, deal_pipeline_id, deal_stage, stage_category
),

stage_first_days as (
    select
        deal_pipeline_id,
        deal_stage,
        stage_category,
        min(date_day) as first_day
    from daily_events
    group by deal_pipeline_id, deal_stage, stage_category
),

-- every day from a stage's first event to the build's day
stage_days as (
    select
        calendar.date_day,
        stage_first_days.deal_pipeline_id,
        stage_first_days.deal_stage,
        stage_first_days.stage_category
    from stage_first_days
    inner join calendar
        on
            stage_first_days.first_day <= calendar.date_day
            and calendar.date_day <= {{ as_of_date() }}
),

running as (
    select
        stage_days.date_day,
        stage_days.deal_pipeline_id,
        stage_days.deal_stage,
        stage_days.stage_category,
        coalesce(daily_events.deals_entered, 0) as deals_entered,
        coalesce(daily_events.entered_value, 0) as entered_value,
        sum(coalesce(daily_events.deal_delta, 0)) over (
            partition by
                stage_days.deal_pipeline_id,
                stage_days.deal_stage,
                stage_days.stage_category
            order by stage_days.date_day
            rows between unbounded preceding and current row
        ) as deals_in_stage,
        sum(coalesce(daily_events.value_delta, 0)) over (
            partition by
                stage_days.deal_pipeline_id,
                stage_days.deal_stage,
                stage_days.stage_category
            order by stage_days.date_day
            rows between unbounded preceding and current row
        ) as value_in_stage
    from stage_days
    left join daily_events
        on
            stage_days.date_day = daily_events.date_day
            and stage_days.deal_pipeline_id = daily_events.deal_pipeline_id
            and stage_days.deal_stage = daily_events.deal_stage
            and stage_days.stage_category = daily_events.stage_category
),

final as (
    select
        running.date_day,
        running.deal_pipeline_id,
        cast(
            coalesce(pipelines.display_name, 'Unknown pipeline')
            as {{ varchar_type() }}
        ) as pipeline_name,
        cast(running.deal_stage as {{ varchar_type() }}) as deal_stage,
        cast(running.stage_category as {{ varchar_type() }})
            as stage_category,
        cast(
            case
                when running.stage_category = 'open'
                    then running.deals_in_stage
                else 0
            end as integer
        ) as open_deal_count,
        cast(
            case
                when running.stage_category = 'open'
                    then running.value_in_stage
                else 0
            end as {{ money_type() }}
        ) as open_deal_value,
        cast(running.deals_entered as integer) as deals_entered,
        cast(
            case
                when {{ is_won('running.stage_category') }}
                    then running.deals_entered
                else 0
            end as integer
        ) as deals_won,
        cast(
            case
                when {{ is_won('running.stage_category') }}
                    then running.entered_value
                else 0
            end as {{ money_type() }}
        ) as won_value,
        cast(
            case
                when {{ is_lost('running.stage_category') }}
                    then running.deals_entered
                else 0
            end as integer
        ) as deals_lost,
        cast(
            case
                when {{ is_lost('running.stage_category') }}
                    then running.entered_value
                else 0
            end as {{ money_type() }}
        ) as lost_value
    from running
    left join pipelines
        on running.deal_pipeline_id = pipelines.id
    where
        running.deals_entered > 0
        or (running.stage_category = 'open' and running.deals_in_stage > 0)
)

select * from final

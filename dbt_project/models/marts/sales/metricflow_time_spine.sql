{#-
    One row per day from 1990 to 2050: the time spine of the semantic
    layer (MetricFlow joins metrics to it for day, week and month grains)
    and the calendar of pipeline_daily. dbt's own date_spine, portable.
-#}
with

days as (
    {{ dbt.date_spine(
        'day',
        "cast('1990-01-01' as date)",
        "cast('2050-12-31' as date)",
    ) }}
),

final as (
    select cast(date_day as date) as date_day
    from days
)

select * from final

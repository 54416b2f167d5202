-- What `make demo` prints after `dbt build`: rows per mart, and every record
-- kept out of the marts by entity and reason (deleted ones included).
-- Compile with `dbt compile --select marts_summary`; run the SQL it writes
-- under target/compiled/.
with

mart_rows as (
    select
        'accounts' as subject,
        count(*) as row_count
    from {{ ref('accounts') }}
    union all
    select
        'contacts' as subject,
        count(*) as row_count
    from {{ ref('contacts') }}
    union all
    select
        'deals' as subject,
        count(*) as row_count
    from {{ ref('deals') }}
    union all
    select
        'deal_aggregations' as subject,
        count(*) as row_count
    from {{ ref('deal_aggregations') }}
    union all
    select
        'rejected_records' as subject,
        count(*) as row_count
    from {{ ref('rejected_records') }}
    {%- for mart in [
        'leads', 'tasks', 'appointments', 'sales_activities', 'users',
        'deals_enhanced', 'deal_stage_history', 'pipeline_daily',
        'owner_performance', 'sales_snapshot', 'account_overview'] %}
    union all
    select
        '{{ mart }}' as subject,
        count(*) as row_count
    from {{ ref(mart) }}
    {%- endfor %}
),

left_out as (
    select
        entity
        || ' '
        || coalesce(
            {{ dbt.split_part('rejection_reason', "':'", 1) }},
            record_status
        ) as subject,
        count(*) as row_count
    from {{ ref('int_records_classified') }}
    where record_status <> 'kept'
    group by
        entity,
        coalesce(
            {{ dbt.split_part('rejection_reason', "':'", 1) }},
            record_status
        )
),

final as (
    select
        subject,
        row_count
    from mart_rows
    union all
    select
        subject,
        row_count
    from left_out
)

select * from final

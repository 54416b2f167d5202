-- Every raw record of each entity is in its mart, in rejected_records or
-- counted as deleted: raw = mart + rejected + deleted. Returns the entities
-- where the counts disagree (no fan-out, no silent drop). Leads, tasks,
-- appointments and sales activities are counted through their staging
-- models, one row per raw row, which are empty when raw lacks the table (a
-- tenant without the leads module).
with

raw_counts as (
    select
        'sales_accounts' as entity,
        count(*) as raw_rows
    from {{ source('freshsales', 'sales_accounts') }}
    union all
    select
        'contacts' as entity,
        count(*) as raw_rows
    from {{ source('freshsales', 'contacts') }}
    union all
    select
        'deals' as entity,
        count(*) as raw_rows
    from {{ source('freshsales', 'deals') }}
    {%- for entity in ['leads', 'tasks', 'appointments', 'sales_activities'] %}
    union all
    select
        '{{ entity }}' as entity,
        count(*) as raw_rows
    from {{ ref('stg_freshsales__' ~ entity) }}
    {%- endfor %}
),

mart_counts as (
    select
        'sales_accounts' as entity,
        count(*) as mart_rows
    from {{ ref('accounts') }}
    union all
    select
        'contacts' as entity,
        count(*) as mart_rows
    from {{ ref('contacts') }}
    union all
    select
        'deals' as entity,
        count(*) as mart_rows
    from {{ ref('deals') }}
    {%- for entity in ['leads', 'tasks', 'appointments', 'sales_activities'] %}
    union all
    select
        '{{ entity }}' as entity,
        count(*) as mart_rows
    from {{ ref(entity) }}
    {%- endfor %}
),

rejected_counts as (
    select
        entity,
        count(*) as rejected_rows
    from {{ ref('rejected_records') }}
    group by entity
),

deleted_counts as (
    select
        entity,
        count(*) as deleted_rows
    from {{ ref('int_records_classified') }}
    where record_status = 'deleted'
    group by entity
),

compared as (
    select
        raw_counts.entity,
        raw_counts.raw_rows,
        mart_counts.mart_rows,
        coalesce(rejected_counts.rejected_rows, 0) as rejected_rows,
        coalesce(deleted_counts.deleted_rows, 0) as deleted_rows
    from raw_counts
    left join mart_counts
        on raw_counts.entity = mart_counts.entity
    left join rejected_counts
        on raw_counts.entity = rejected_counts.entity
    left join deleted_counts
        on raw_counts.entity = deleted_counts.entity
)

select
    entity,
    raw_rows,
    mart_rows,
    rejected_rows,
    deleted_rows
from compared
where raw_rows <> mart_rows + rejected_rows + deleted_rows

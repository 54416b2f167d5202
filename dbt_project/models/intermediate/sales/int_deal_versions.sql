{{ config(materialized='table') }}  {#- read by two marts: see its YAML -#}

{#-
    The live versions of every deal, each with the span it was current
    (effective_from, effective_to) and the stage visit it belongs to. The
    versions come from the snapshot deals_snapshot (DuckDB, PostgreSQL); on
    Spark, where the snapshot is disabled, each deal has one version, its
    current one. The rules are the doc block `history_seed`.
-#}
{%- set has_snapshot = target.type != 'spark' %}

{#- the versions: snapshot rows, or on Spark each deal's current row -#}
{%- if has_snapshot -%}
{%- set versions_source = ref('deals_snapshot') -%}
{%- set recorded_from, recorded_to = 'dbt_valid_from', 'dbt_valid_to' -%}
{%- else -%}
{%- set versions_source = ref('int_deals_enriched') -%}
{%- set recorded_from = 'updated_at' -%}
{%- set recorded_to = 'cast(null as ' ~ naive_timestamp_type() ~ ')' -%}
{%- endif -%}
{%- set versions_query -%}
    select
        id as deal_crm_id,
        deal_pipeline_id,
        deal_stage,
        stage_category,
        owner_id,
        deal_size_base,
        record_status,
        stage_updated_at,
        created_at,
        {{ recorded_from }} as recorded_from,
        {{ recorded_to }} as recorded_to
    from {{ versions_source }}
{%- endset %}

{#-
    Most deals have one version. Each of those is its own visit, and the
    window functions below (two sorts of every version, 26 s of CPU per
    10,000,000 deals) are only needed for the deals with several versions.
    Every snapshot row but a deal's last has been closed (recorded_to), so
    the ids with a closed row hold every deal with several versions (and a
    deal whose only row was closed when it vanished from raw, which the
    general path handles as well). The versions are read as subqueries, not
    a CTE: DuckDB would store a CTE read three times.
-#}

with

revised_deals as (
    select distinct deal_crm_id
    from ({{ versions_query }}) as closed_versions
    where recorded_to is not null
),

-- a deal's only version, still current: one visit, entered at the CRM's
-- stage time (else the deal's creation), as the first version below
single_versions as (
    select
        versions.deal_crm_id,
        versions.deal_pipeline_id,
        versions.deal_stage,
        versions.stage_category,
        versions.owner_id,
        versions.deal_size_base,
        versions.recorded_to as effective_to,
        1 as version_number,
        1 as visit_number,
        true as starts_visit,
        coalesce(versions.stage_updated_at, versions.created_at)
            as effective_from
    from ({{ versions_query }}) as versions
    left join revised_deals
        on versions.deal_crm_id = revised_deals.deal_crm_id
    where
        revised_deals.deal_crm_id is null
        and versions.record_status = 'kept'
),

versions as (
    select all_versions.*
    from ({{ versions_query }}) as all_versions
    inner join revised_deals
        on all_versions.deal_crm_id = revised_deals.deal_crm_id
),

ordered as (
    select
        deal_crm_id,
        deal_pipeline_id,
        deal_stage,
        stage_category,
        owner_id,
        deal_size_base,
        record_status,
        stage_updated_at,
        created_at,
        recorded_from,
        recorded_to,
        row_number() over (
            partition by deal_crm_id order by recorded_from
        ) as version_number,
        lag(deal_stage) over (
            partition by deal_crm_id order by recorded_from
        ) as previous_stage,
        lag(record_status) over (
            partition by deal_crm_id order by recorded_from
        ) as previous_status,
        lag(recorded_from) over (
            partition by deal_crm_id order by recorded_from
        ) as previous_recorded_from
    from versions
),

-- A live version starts a stage visit when the deal was not live before
-- (first version, or deleted/rejected in between) or its stage changed.
flagged as (
    select
        deal_crm_id,
        deal_pipeline_id,
        deal_stage,
        stage_category,
        owner_id,
        deal_size_base,
        record_status,
        stage_updated_at,
        created_at,
        recorded_from,
        recorded_to,
        version_number,
        previous_recorded_from,
        record_status = 'kept' as is_live,
        (
            record_status = 'kept'
            and (
                previous_status is null
                or previous_status <> 'kept'
                or previous_stage <> deal_stage
            )
        ) as starts_visit
    from ordered
),

timed as (
    select
        deal_crm_id,
        deal_pipeline_id,
        deal_stage,
        stage_category,
        owner_id,
        deal_size_base,
        is_live,
        starts_visit,
        version_number,
        recorded_to,
        case
            -- the first known version: the stage the CRM says, since it
            -- was entered
            when previous_recorded_from is null
                then coalesce(stage_updated_at, created_at)
            -- a later stage change: the CRM's stage time when it is newer
            -- than the previous version, else the version's updated_at
            when starts_visit and stage_updated_at > previous_recorded_from
                then stage_updated_at
            else recorded_from
        end as effective_from
    from flagged
),

spans as (
    select
        deal_crm_id,
        deal_pipeline_id,
        deal_stage,
        stage_category,
        owner_id,
        deal_size_base,
        is_live,
        starts_visit,
        version_number,
        effective_from,
        coalesce(
            lead(effective_from) over (
                partition by deal_crm_id order by version_number
            ),
            recorded_to
        ) as effective_to,
        sum(case when starts_visit then 1 else 0 end) over (
            partition by deal_crm_id order by version_number
            rows between unbounded preceding and current row
        ) as visit_number
    from timed
),

{#- the deals with several versions, then those with one -#}
{%- set parts = [('spans', 'is_live'), ('single_versions', none)] %}

final as (
    {%- for part, condition in parts %}
    select
        deal_crm_id,
        version_number,
        visit_number,
        starts_visit,
        deal_pipeline_id,
        deal_stage,
        stage_category,
        owner_id,
        deal_size_base,
        effective_from,
        effective_to
    from {{ part }}
    {%- if condition %}
    where {{ condition }}
    {%- endif %}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
)

select * from final

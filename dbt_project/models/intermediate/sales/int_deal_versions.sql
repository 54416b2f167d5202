{{ config(materialized='table') }}  {#- read by two marts: see its YAML -#}

{#-
    The live versions of every deal, each with the span it was current
    (effective_from, effective_to) and the stage visit it belongs to. The
    versions come from the snapshot deals_snapshot (DuckDB, PostgreSQL); on
    Spark, where the snapshot is disabled, each deal has one version, its
    current one. The rules are the doc block `history_seed`.
-#}
{%- set has_snapshot = target.type != 'spark' %}

with

{% if has_snapshot -%}
snapshot_rows as (
    select * from {{ ref('deals_snapshot') }}
),

versions as (
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
        dbt_valid_from as recorded_from,
        dbt_valid_to as recorded_to
    from snapshot_rows
),
{%- else -%}
current_deals as (
    select * from {{ ref('int_deals_enriched') }}
),

versions as (
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
        updated_at as recorded_from,
        cast(null as {{ naive_timestamp_type() }}) as recorded_to
    from current_deals
),
{%- endif %}

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

final as (
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
    from spans
    where is_live
)

select * from final

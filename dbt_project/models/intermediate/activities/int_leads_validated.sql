{%- set required = ['last_name', 'email', 'created_at', 'updated_at'] -%}

with

leads as (
    select * from {{ ref('stg_freshsales__leads') }}
),

lead_source_map as (
    select * from {{ ref('map_lead_source') }}
),

ranked as (
    select
        leads.*,
        {{ latest_version_rank() }} as version_rank
    from leads
),

mapped as (
    select
        ranked.id,
        ranked.first_name,
        ranked.last_name,
        ranked.email,
        ranked.job_title,
        ranked.company_name,
        ranked.city,
        ranked.country,
        lead_source_map.canonical_label as lead_source,
        ranked.lead_source_label,
        ranked.lead_stage,
        ranked.owner_id,
        ranked.lead_score,
        ranked.created_at,
        ranked.updated_at,
        ranked.is_deleted,
        ranked.business_key,
        ranked.raw_values
    from ranked
    left join lead_source_map
        on
            {{ normalize_label('ranked.lead_source_label') }}
            = lead_source_map.raw_label
    where ranked.version_rank = 1
),

final as (
    select
        id,
        first_name,
        last_name,
        email,
        job_title,
        company_name,
        city,
        country,
        lead_source,
        lead_stage,
        owner_id,
        lead_score,
        created_at,
        updated_at,
        is_deleted,
        business_key,
        raw_values,
        {{ validation_reason(
            required, [], [('lead_source', 'lead_source_label')]
        ) }} as validation_reason
    from mapped
)

select * from final

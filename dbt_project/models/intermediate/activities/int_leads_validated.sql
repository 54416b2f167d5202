{%- set required = ['last_name', 'email', 'created_at', 'updated_at'] -%}

with

leads as (
    select * from {{ ref('stg_freshsales__leads') }}
),

lead_source_map as (
    select * from {{ ref('map_lead_source') }}
),

mapped as (
    select
        leads.id,
        leads.first_name,
        leads.last_name,
        leads.email,
        leads.job_title,
        leads.company_name,
        leads.city,
        leads.country,
        lead_source_map.canonical_label as lead_source,
        leads.lead_source_label,
        leads.lead_stage,
        leads.owner_id,
        leads.lead_score,
        leads.created_at,
        leads.updated_at,
        leads.is_deleted,
        leads.business_key
    from leads
    left join lead_source_map
        on
            {{ normalize_label('leads.lead_source_label') }}
            = lead_source_map.raw_label
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
        lead_source_label,
        {{ validation_reason(
            required, [], [('lead_source', 'lead_source_label')]
        ) }} as validation_reason
    from mapped
)

select * from final

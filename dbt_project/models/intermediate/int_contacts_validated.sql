{%- set required = [
    'contact_id', 'first_name', 'last_name', 'email', 'lead_source',
    'created_at', 'updated_at',
] -%}
{%- set cast_columns = ['last_contact_date', 'created_at', 'updated_at'] -%}

with

contacts as (
    select * from {{ ref('stg_freshsales__contacts') }}
),

lead_source_map as (
    select * from {{ ref('map_lead_source') }}
),

ranked as (
    select
        contacts.*,
        {{ latest_version_rank() }} as version_rank
    from contacts
),

mapped as (
    select
        ranked.id,
        ranked.contact_id,
        ranked.first_name,
        ranked.last_name,
        ranked.email,
        ranked.job_title,
        lead_source_map.canonical_label as lead_source,
        ranked.lead_source_label,
        ranked.sales_account_id,
        ranked.owner_id,
        ranked.last_contact_date,
        ranked.created_at,
        ranked.updated_at,
        ranked.is_deleted,
        ranked.business_key,
        ranked.raw_values,
        {%- for column in cast_columns %}
        ranked.has_invalid_{{ column }},
        {%- endfor %}
        ranked.extracted_at
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
        contact_id,
        first_name,
        last_name,
        email,
        job_title,
        lead_source,
        sales_account_id,
        owner_id,
        last_contact_date,
        created_at,
        updated_at,
        is_deleted,
        business_key,
        raw_values,
        {{ validation_reason(
            required, cast_columns, [('lead_source', 'lead_source_label')]
        ) }} as validation_reason
    from mapped
)

select * from final

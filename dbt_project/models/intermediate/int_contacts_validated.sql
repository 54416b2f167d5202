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

mapped as (
    select
        contacts.id,
        contacts.contact_id,
        contacts.first_name,
        contacts.last_name,
        contacts.email,
        contacts.job_title,
        lead_source_map.canonical_label as lead_source,
        contacts.lead_source_label,
        contacts.sales_account_id,
        contacts.owner_id,
        contacts.last_contact_date,
        contacts.created_at,
        contacts.updated_at,
        contacts.is_deleted,
        contacts.business_key,
        contacts.last_contact_date_text,
        {%- for column in cast_columns %}
        contacts.has_invalid_{{ column }},
        {%- endfor %}
        contacts.extracted_at
    from contacts
    left join lead_source_map
        on
            {{ normalize_label('contacts.lead_source_label') }}
            = lead_source_map.raw_label
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
        lead_source_label,
        last_contact_date_text,
        {{ validation_reason(
            required, cast_columns, [('lead_source', 'lead_source_label')]
        ) }} as validation_reason
    from mapped
)

select * from final

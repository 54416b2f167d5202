{%- set entity = 'contacts' -%}
{%- set raw_relation = source('freshsales', 'contacts') -%}
{%- set raw_columns = raw_columns_of(raw_relation) -%}
{%- set cast_columns = ['last_contact_date', 'created_at', 'updated_at'] -%}

{#- The selector lists any preset may join (refs unconditional, so the
    DAG does not depend on var `crm_preset`). -#}
{%- set selectors = {
    'lead_sources': ref('base_freshsales__lead_sources'),
} -%}

with

source as (
    select * from {{ raw_relation }}
),

renamed as (
    select
        source.id,
        coalesce(source.is_deleted, false) as is_deleted,
        {{ preset_text(entity, 'contact_id') }} as contact_id,
        {{ preset_text(entity, 'first_name') }} as first_name,
        {{ preset_text(entity, 'last_name') }} as last_name,
        lower({{ preset_text(entity, 'email') }}) as email,
        {{ preset_text(entity, 'job_title') }} as job_title,
        {{ preset_text(entity, 'lead_source') }} as lead_source_label,
        source.sales_account_id,
        source.owner_id,
        {{ preset_text(entity, 'last_contact_date') }}
            as last_contact_date_text,
        {{ preset_timestamp_columns(entity, 'created_at', raw_columns) }},
        {{ preset_timestamp_columns(entity, 'updated_at', raw_columns) }},
        {%- for column in cast_columns %}
        {{ preset_variant_filled(entity, column, raw_columns) }}
            as {{ column }}_is_variant,
        {%- endfor %}
        source._extracted_at as extracted_at
    from source
    {{- preset_selector_joins(entity, selectors) }}
),

casted as (
    select
        id,
        is_deleted,
        contact_id,
        first_name,
        last_name,
        email,
        job_title,
        lead_source_label,
        sales_account_id,
        owner_id,
        last_contact_date_text,
        last_contact_date_is_variant,
        {{ crm_try_cast('last_contact_date_text', 'date') }}
            as last_contact_date,
        created_at_text,
        created_at_is_variant,
        {{ preset_timestamp_cast(entity, 'created_at', raw_columns) }}
            as created_at,
        updated_at_text,
        updated_at_is_variant,
        {{ preset_timestamp_cast(entity, 'updated_at', raw_columns) }}
            as updated_at,
        extracted_at
    from renamed
),

final as (
    select
        id,
        contact_id,
        first_name,
        last_name,
        email,
        job_title,
        lead_source_label,
        sales_account_id,
        owner_id,
        last_contact_date,
        created_at,
        updated_at,
        is_deleted,
        contact_id as business_key,
        {%- for column in cast_columns %}
        {{ is_invalid(column) }} as has_invalid_{{ column }},
        {%- endfor %}
        last_contact_date_text,
        extracted_at
    from casted
)

select * from final

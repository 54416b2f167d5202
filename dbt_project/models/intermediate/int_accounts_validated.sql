{%- set required = [
    'account_id', 'account_name', 'industry', 'account_value', 'region',
    'created_at', 'updated_at',
] -%}
{%- set cast_columns = [
    'account_id', 'account_value', 'created_at', 'updated_at',
] -%}

with

accounts as (
    select * from {{ ref('stg_freshsales__accounts') }}
),

region_map as (
    select * from {{ ref('map_region') }}
),

ranked as (
    select
        accounts.*,
        {{ latest_version_rank() }} as version_rank
    from accounts
),

mapped as (
    select
        ranked.id,
        ranked.account_id,
        ranked.account_name,
        ranked.industry,
        ranked.account_value,
        region_map.canonical_label as region,
        ranked.region_label,
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
    left join region_map
        on {{ normalize_label('ranked.region_label') }} = region_map.raw_label
    where ranked.version_rank = 1
),

final as (
    select
        id,
        account_id,
        account_name,
        industry,
        account_value,
        region,
        created_at,
        updated_at,
        is_deleted,
        business_key,
        raw_values,
        {{ validation_reason(
            required, cast_columns, [('region', 'region_label')]
        ) }} as validation_reason
    from mapped
)

select * from final

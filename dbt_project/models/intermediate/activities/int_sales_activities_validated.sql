{%- set required = [
    'title', 'owner', 'sales_activity_type', 'target', 'target_type',
    'created_at', 'updated_at',
] -%}

with

activities as (
    select * from {{ ref('stg_freshsales__sales_activities') }}
),

target_type_map as (
    select * from {{ ref('map_target_type') }}
),

ranked as (
    select
        activities.*,
        {{ latest_version_rank() }} as version_rank
    from activities
),

mapped as (
    select
        ranked.id,
        ranked.title,
        ranked.notes,
        ranked.starts_at,
        ranked.ends_at,
        ranked.sales_activity_type_id,
        ranked.sales_activity_type,
        ranked.outcome,
        target_type_map.canonical_label as target_type,
        ranked.target_type_label,
        ranked.target_crm_id,
        ranked.owner_id,
        ranked.creator_id,
        ranked.created_at,
        ranked.updated_at,
        ranked.is_deleted,
        ranked.business_key,
        ranked.raw_values
    from ranked
    left join target_type_map
        on
            {{ normalize_label('ranked.target_type_label') }}
            = target_type_map.raw_label
    where ranked.version_rank = 1
),

final as (
    select
        id,
        title,
        notes,
        starts_at,
        ends_at,
        sales_activity_type,
        outcome,
        target_type,
        target_crm_id,
        owner_id,
        creator_id,
        created_at,
        updated_at,
        is_deleted,
        business_key,
        raw_values,
        {{ validation_reason(
            required, [], [('target_type', 'target_type_label')],
            {'owner': 'owner_id', 'target': 'target_crm_id',
             'sales_activity_type': 'sales_activity_type_id'}
        ) }} as validation_reason
    from mapped
)

select * from final

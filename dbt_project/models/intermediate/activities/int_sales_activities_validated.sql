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

mapped as (
    select
        activities.id,
        activities.title,
        activities.notes,
        activities.starts_at,
        activities.ends_at,
        activities.sales_activity_type_id,
        activities.sales_activity_type,
        activities.outcome,
        target_type_map.canonical_label as target_type,
        activities.target_type_label,
        activities.target_crm_id,
        activities.owner_id,
        activities.creator_id,
        activities.created_at,
        activities.updated_at,
        activities.is_deleted,
        activities.business_key
    from activities
    left join target_type_map
        on
            {{ normalize_label('activities.target_type_label') }}
            = target_type_map.raw_label
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
        sales_activity_type_id,
        target_type_label,
        {{ validation_reason(
            required, [], [('target_type', 'target_type_label')],
            {'owner': 'owner_id', 'target': 'target_crm_id',
             'sales_activity_type': 'sales_activity_type_id'}
        ) }} as validation_reason
    from mapped
)

select * from final

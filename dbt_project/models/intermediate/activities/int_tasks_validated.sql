{%- set required = [
    'title', 'owner', 'target', 'target_type', 'status', 'created_at',
    'updated_at',
] -%}

with

tasks as (
    select * from {{ ref('stg_freshsales__tasks') }}
),

status_map as (
    select * from {{ ref('map_task_status') }}
),

target_type_map as (
    select * from {{ ref('map_target_type') }}
),

mapped as (
    select
        tasks.id,
        tasks.title,
        tasks.description,
        status_map.canonical_label as status,
        tasks.status_label,
        tasks.due_at,
        tasks.completed_at,
        target_type_map.canonical_label as target_type,
        tasks.target_type_label,
        tasks.target_crm_id,
        tasks.owner_id,
        tasks.creator_id,
        tasks.task_type,
        tasks.outcome,
        tasks.created_at,
        tasks.updated_at,
        tasks.is_deleted,
        tasks.business_key
    from tasks
    left join status_map
        on {{ normalize_label('tasks.status_label') }} = status_map.raw_label
    left join target_type_map
        on
            {{ normalize_label('tasks.target_type_label') }}
            = target_type_map.raw_label
),

final as (
    select
        id,
        title,
        description,
        status,
        due_at,
        completed_at,
        target_type,
        target_crm_id,
        owner_id,
        creator_id,
        task_type,
        outcome,
        created_at,
        updated_at,
        is_deleted,
        business_key,
        status_label,
        target_type_label,
        {{ validation_reason(
            required, [],
            [('target_type', 'target_type_label'), ('status', 'status_label')],
            {'owner': 'owner_id', 'target': 'target_crm_id'}
        ) }} as validation_reason
    from mapped
)

select * from final

{#- The edge below orders the build only, as in int_tasks_orphans_flagged. #}
-- depends_on: {{ ref('sales_activities') }}
with

tasks as (
    select * from {{ ref('int_tasks_orphans_flagged') }}
),

final as (
    select
        id,
        cast(title as {{ varchar_type() }}) as title,
        cast(description as {{ varchar_type() }}) as description,
        cast(status as {{ varchar_type() }}) as status,
        due_at,
        completed_at,
        cast(task_type as {{ varchar_type() }}) as task_type,
        cast(outcome as {{ varchar_type() }}) as outcome,
        cast(target_type as {{ varchar_type() }}) as target_type,
        target_crm_id,
        account_id,
        cast(contact_id as {{ varchar_type() }}) as contact_id,
        deal_id,
        owner_id,
        creator_id,
        created_at,
        updated_at
    from tasks
    where record_status = 'kept'
)

select * from final

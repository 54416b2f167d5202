{{ config(materialized='table') }}  {#- read by marts and tests: see its YAML -#}

{#- A sales activity whose target is not in its mart is an `orphan`. -#}
with

sales_activities as (
    select * from {{ ref('int_sales_activities_validated') }}
),

targets as (
    select * from {{ ref('int_activity_targets') }}
),

reasoned as (
    select
        sales_activities.id,
        sales_activities.title,
        sales_activities.notes,
        sales_activities.starts_at,
        sales_activities.ends_at,
        sales_activities.sales_activity_type,
        sales_activities.outcome,
        sales_activities.target_type,
        sales_activities.target_crm_id,
        sales_activities.owner_id,
        sales_activities.creator_id,
        sales_activities.created_at,
        sales_activities.updated_at,
        targets.account_id,
        targets.contact_id,
        targets.deal_id,
        sales_activities.is_deleted,
        sales_activities.sales_activity_type_id,
        sales_activities.target_type_label,
        case
            when sales_activities.is_deleted then null
            when sales_activities.validation_reason is not null
                then sales_activities.validation_reason
            when targets.target_crm_id is null then 'orphan'
        end as rejection_reason
    from sales_activities
    left join targets
        on
            sales_activities.target_type = targets.target_type
            and sales_activities.target_crm_id = targets.target_crm_id
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
        account_id,
        contact_id,
        deal_id,
        is_deleted,
        case
            when rejection_reason is not null
                then {{ raw_values_json('sales_activities') }}
        end as raw_values,
        rejection_reason,
        {{ record_status('rejection_reason') }} as record_status
    from reasoned
)

select * from final

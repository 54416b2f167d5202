{{ config(materialized='table') }}  {#- read by marts and tests: see its YAML -#}

{#- An appointment whose target is not in its mart is rejected as `orphan`. -#}
with

appointments as (
    select * from {{ ref('int_appointments_validated') }}
),

targets as (
    select * from {{ ref('int_activity_targets') }}
),

reasoned as (
    select
        appointments.id,
        appointments.title,
        appointments.description,
        appointments.starts_at,
        appointments.ends_at,
        appointments.time_zone,
        appointments.location,
        appointments.is_all_day,
        appointments.target_type,
        appointments.target_crm_id,
        appointments.owner_id,
        appointments.creator_id,
        appointments.outcome,
        appointments.created_at,
        appointments.updated_at,
        targets.account_id,
        targets.contact_id,
        targets.deal_id,
        appointments.is_deleted,
        appointments.target_type_label,
        case
            when appointments.is_deleted then null
            when appointments.validation_reason is not null
                then appointments.validation_reason
            when targets.target_crm_id is null then 'orphan'
        end as rejection_reason
    from appointments
    left join targets
        on
            appointments.target_type = targets.target_type
            and appointments.target_crm_id = targets.target_crm_id
),

final as (
    select
        id,
        title,
        description,
        starts_at,
        ends_at,
        time_zone,
        location,
        is_all_day,
        target_type,
        target_crm_id,
        owner_id,
        creator_id,
        outcome,
        created_at,
        updated_at,
        account_id,
        contact_id,
        deal_id,
        is_deleted,
        case
            when rejection_reason is not null
                then {{ raw_values_json('appointments') }}
        end as raw_values,
        rejection_reason,
        {{ record_status('rejection_reason') }} as record_status
    from reasoned
)

select * from final

with

appointments as (
    select * from {{ ref('int_appointments_orphans_flagged') }}
),

final as (
    select
        id,
        cast(title as {{ varchar_type() }}) as title,
        cast(description as {{ varchar_type() }}) as description,
        starts_at,
        ends_at,
        cast(time_zone as {{ varchar_type() }}) as time_zone,
        cast(location as {{ varchar_type() }}) as location,  -- noqa: RF04
        is_all_day,
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
    from appointments
    where record_status = 'kept'
)

select * from final

with

activities as (
    select * from {{ ref('int_sales_activities_orphans_flagged') }}
),

final as (
    select
        id,
        cast(title as {{ varchar_type() }}) as title,
        cast(notes as {{ varchar_type() }}) as notes,
        starts_at,
        ends_at,
        cast(sales_activity_type as {{ varchar_type() }})
            as sales_activity_type,
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
    from activities
    where record_status = 'kept'
)

select * from final

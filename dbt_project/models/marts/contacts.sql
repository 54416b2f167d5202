with

contacts as (
    select * from {{ ref('int_contacts_deduplicated') }}
),

final as (
    select
        id,
        cast(contact_id as {{ varchar_type() }}) as contact_id,
        cast(first_name as {{ varchar_type() }}) as first_name,
        cast(last_name as {{ varchar_type() }}) as last_name,
        cast(email as {{ varchar_type() }}) as email,
        cast(job_title as {{ varchar_type() }}) as job_title,
        cast(lead_source as {{ varchar_type() }}) as lead_source,
        last_contact_date,
        created_at,
        updated_at
    from contacts
    where record_status = 'kept'
)

select * from final

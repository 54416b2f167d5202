{{ config(materialized='table') }}  {#- read by marts and tests: see its YAML -#}

{#- Leads share a person's e-mail when duplicated: the most recently
    updated live, valid lead keeps it (kept_id_for_key), as for contacts. -#}
with

leads as (
    select * from {{ ref('int_leads_validated') }}
),

-- Only live, valid records compete for a business key.
candidates as (
    select
        id,
        {{ kept_id_for_key('email') }} as kept_id
    from leads
    where not is_deleted and validation_reason is null
),

reasoned as (
    select
        leads.id,
        leads.first_name,
        leads.last_name,
        leads.email,
        leads.job_title,
        leads.company_name,
        leads.city,
        leads.country,
        leads.lead_source,
        leads.lead_stage,
        leads.owner_id,
        leads.lead_score,
        leads.created_at,
        leads.updated_at,

        leads.is_deleted,
        leads.business_key,
        leads.lead_source_label,
        case
            when leads.is_deleted then null
            when leads.validation_reason is not null
                then leads.validation_reason
            when candidates.kept_id <> leads.id
                then
                    'duplicate_of:'
                    || cast(candidates.kept_id as {{ dbt.type_string() }})
        end as rejection_reason
    from leads
    left join candidates
        on leads.id = candidates.id
),

final as (
    select
        id,
        first_name,
        last_name,
        email,
        job_title,
        company_name,
        city,
        country,
        lead_source,
        lead_stage,
        owner_id,
        lead_score,
        created_at,
        updated_at,

        is_deleted,
        business_key,
        case
            when rejection_reason is not null
                then {{ raw_values_json('leads') }}
        end as raw_values,
        rejection_reason,
        {{ record_status('rejection_reason') }} as record_status
    from reasoned
)

select * from final

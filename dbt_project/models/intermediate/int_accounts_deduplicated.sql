{{ config(materialized='table') }}  {#- read by marts and tests: see its YAML -#}

with

accounts as (
    select * from {{ ref('int_accounts_validated') }}
),

-- Only live, valid records compete for a business key.
candidates as (
    select
        id,
        {{ kept_id_for_key('account_id') }} as kept_id
    from accounts
    where not is_deleted and validation_reason is null
),

reasoned as (
    select
        accounts.id,
        accounts.account_id,
        accounts.account_name,
        accounts.industry,
        accounts.account_value,
        accounts.region,
        accounts.created_at,
        accounts.updated_at,

        accounts.is_deleted,
        accounts.business_key,
        accounts.account_id_text,
        accounts.account_value_text,
        accounts.region_label,
        case
            when accounts.is_deleted then null
            when accounts.validation_reason is not null
                then accounts.validation_reason
            when candidates.kept_id <> accounts.id
                then
                    'duplicate_of:'
                    || cast(candidates.kept_id as {{ dbt.type_string() }})
        end as rejection_reason
    from accounts
    left join candidates
        on accounts.id = candidates.id
),

final as (
    select
        id,
        account_id,
        account_name,
        industry,
        account_value,
        region,
        created_at,
        updated_at,

        is_deleted,
        business_key,
        case
            when rejection_reason is not null
                then {{ raw_values_json('sales_accounts') }}
        end as raw_values,
        rejection_reason,
        {{ record_status('rejection_reason') }} as record_status
    from reasoned
)

select * from final

{#- Sales activities (raw.sales_activities): like tasks, no Recycle Bin. -#}
with

source as (
    {{ raw_relation_or_empty(source('freshsales', 'sales_activities'), [
        ('id', dbt.type_bigint()),
        ('is_deleted', dbt.type_boolean()),
        ('title', dbt.type_string()),
        ('notes', dbt.type_string()),
        ('start_date', instant_type()),
        ('end_date', instant_type()),
        ('sales_activity_type_id', dbt.type_bigint()),
        ('sales_activity_outcome_id', dbt.type_bigint()),
        ('targetable_type', dbt.type_string()),
        ('targetable_id', dbt.type_bigint()),
        ('owner_id', dbt.type_bigint()),
        ('creater_id', dbt.type_bigint()),
        ('created_at', instant_type()),
        ('updated_at', instant_type()),
        ('_extracted_at', instant_type()),
    ]) }}
),

activity_types as (
    select * from {{ ref('base_freshsales__sales_activity_types') }}
),

outcomes as (
    select * from {{ ref('base_freshsales__sales_activity_outcomes') }}
),

renamed as (
    select
        source.id,
        coalesce(source.is_deleted, false) as is_deleted,
        {{ clean_text('source.title') }} as title,
        {{ clean_text('source.notes') }} as notes,
        {{ to_utc_naive('source.start_date') }} as starts_at,
        {{ to_utc_naive('source.end_date') }} as ends_at,
        source.sales_activity_type_id,
        activity_types.display_name as sales_activity_type,
        source.sales_activity_outcome_id as outcome_id,
        outcomes.display_name as outcome,
        {{ clean_text('source.targetable_type') }} as target_type_label,
        source.targetable_id as target_crm_id,
        source.owner_id,
        source.creater_id as creator_id,
        {{ to_utc_naive('source.created_at') }} as created_at,
        {{ to_utc_naive('source.updated_at') }} as updated_at,
        source._extracted_at as extracted_at
    from source
    left join activity_types
        on source.sales_activity_type_id = activity_types.id
    left join outcomes
        on source.sales_activity_outcome_id = outcomes.id
),

final as (
    select
        id,
        title,
        notes,
        starts_at,
        ends_at,
        sales_activity_type_id,
        sales_activity_type,
        outcome_id,
        outcome,
        target_type_label,
        target_crm_id,
        owner_id,
        creator_id,
        created_at,
        updated_at,
        is_deleted,
        cast(id as {{ dbt.type_string() }}) as business_key,
        extracted_at
    from renamed
)

select * from final

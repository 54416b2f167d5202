{%- set raw_relation = source('freshsales', 'sales_activity_outcomes') -%}
{%- set raw_columns = raw_columns_of(raw_relation) -%}

with

source as (
    {{ raw_relation_or_empty(raw_relation, [
        ('id', dbt.type_bigint()),
        ('name', dbt.type_string()),
        ('position', dbt.type_bigint()),
        ('sales_activity_type_id', dbt.type_bigint()),
    ]) }}
),

renamed as (
    select
        source.id,
        {{ clean_text('source.name') }} as display_name,
        source.position as list_position,
        {{ raw_column_or_null(raw_columns, 'sales_activity_type_id',
            dbt.type_bigint()) }} as sales_activity_type_id
    from source
)

select * from renamed

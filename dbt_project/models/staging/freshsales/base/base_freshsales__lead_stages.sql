with

source as (
    {{ raw_relation_or_empty(source('freshsales', 'lead_stages'), [
        ('id', dbt.type_bigint()),
        ('name', dbt.type_string()),
        ('position', dbt.type_bigint()),
    ]) }}
),

renamed as (
    select
        source.id,
        {{ clean_text('source.name') }} as display_name,
        source.position as list_position
    from source
)

select * from renamed

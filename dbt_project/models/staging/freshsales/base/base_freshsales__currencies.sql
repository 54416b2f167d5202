with

source as (
    {{ raw_relation_or_empty(source('freshsales', 'currencies'), [
        ('id', dbt.type_bigint()),
        ('currency_code', dbt.type_string()),
        ('exchange_rate', 'decimal(38, 9)'),
        ('is_active', dbt.type_boolean()),
        ('currency_type', dbt.type_bigint()),
    ]) }}
),

renamed as (
    select
        source.id,
        upper({{ clean_text('source.currency_code') }}) as currency_code,
        cast(source.exchange_rate as decimal(38, 9)) as exchange_rate,
        source.is_active,
        -- Freshsales: currency_type 1 is the account's base currency
        coalesce(source.currency_type = 1, false) as is_base_currency
    from source
)

select * from renamed

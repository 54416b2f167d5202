{#-
    money_in_base_currency(amount, rate): an amount in a deal's currency
    converted to the base currency, amount / rate, rounded to the cent, a
    half cent away from zero (5.35 at 2 -> 2.68, -5.35 -> -2.68; what
    Python's Decimal ROUND_HALF_UP and the CRM's base_currency_amount do).
    `rate` is the currency's exchange_rate: units of the currency per unit
    of the base currency. NULL when the amount is NULL or the rate is not a
    positive number (the caller rejects such a deal first).

    Exact on DuckDB and PostgreSQL: DuckDB divides decimals as DOUBLE
    (5.35 / 2 = 2.67499999... would round to 2.67), so both compute in
    integers: cents * 10^9 / (rate * 10^9), rounded with integer division.
    Amounts carry at most 2 decimals (money) and rates at most 9 (the
    extractor's decimal(38,9)). Spark keeps 13 decimal places of the
    quotient before rounding it (its decimal division), which gives the
    same cents for any rate with a few decimals, such as the CRM's.

    A rate of exactly 1 (the base currency, most deals) gives the amount
    itself, to the cent, without the integer arithmetic: on DuckDB the
    128-bit division and the rate's conversion cost 5.7 s of CPU per
    10,000,000 deals, against 0.05 s for the comparison.
-#}
{% macro money_in_base_currency(amount, rate) -%}
    {{ return(adapter.dispatch('money_in_base_currency', 'crm_management')(
        amount, rate)) }}
{%- endmacro %}

{% macro _rate_units(rate, integer_type) -%}
    cast(cast({{ rate }} as decimal(38, 9)) * 1000000000 as {{ integer_type }})
{%- endmacro %}

{% macro _amount_cents(amount, integer_type) -%}
    cast(cast(abs({{ amount }}) as decimal(38, 2)) * 100 as {{ integer_type }})
{%- endmacro %}

{#- PostgreSQL: numeric integers and div(). -#}
{% macro default__money_in_base_currency(amount, rate) -%}
    case
        when {{ rate }} = 1
            then cast({{ amount }} as {{ money_type() }})
        when {{ rate }} > 0
            then cast(
                sign({{ amount }}) * div(
                    2 * {{ _amount_cents(amount, 'numeric') }} * 1000000000
                    + {{ _rate_units(rate, 'numeric') }},
                    2 * {{ _rate_units(rate, 'numeric') }}
                ) * 0.01 as {{ money_type() }}
            )
    end
{%- endmacro %}

{#- DuckDB: hugeint and its integer division `//`. -#}
{% macro duckdb__money_in_base_currency(amount, rate) -%}
    case
        when {{ rate }} = 1
            then cast({{ amount }} as {{ money_type() }})
        when {{ rate }} > 0
            then cast(
                cast(
                    sign({{ amount }}) * (
                        (
                            2 * {{ _amount_cents(amount, 'hugeint') }}
                            * 1000000000
                            + {{ _rate_units(rate, 'hugeint') }}
                        ) // (2 * {{ _rate_units(rate, 'hugeint') }})
                    ) as decimal(38, 0)
                ) * 0.01 as {{ money_type() }}
            )
    end
{%- endmacro %}

{#- Spark: decimal division (13 places here), then round half up. -#}
{% macro spark__money_in_base_currency(amount, rate) -%}
    case
        when {{ rate }} > 0
            then cast(
                round(
                    cast({{ amount }} as decimal(18, 2))
                    / cast({{ rate }} as decimal(20, 9)),
                    2
                ) as {{ money_type() }}
            )
    end
{%- endmacro %}

{#-
    crm_try_cast(expr, kind): cast a text expression, NULL when it does not fit.

    `dbt.safe_cast` is a plain CAST on DuckDB and PostgreSQL, so one bad value
    would fail the whole build. Here a bad value becomes NULL, and staging
    turns "text present but cast NULL" into an `invalid:<column>` rejection.

    kind: `bigint`, `money` (numeric(18,2)), `date` (a date, or the UTC date
    of a timestamp with offset), `timestamp` (naive UTC).
-#}
{% macro crm_try_cast(expr, kind) -%}
    {{ return(adapter.dispatch('crm_try_cast', 'crm_management')(expr, kind)) }}
{%- endmacro %}

{% macro money_type() -%}
    numeric(18, 2)
{%- endmacro %}

{% macro _sql_type_of(kind) -%}
    {%- if kind == 'bigint' -%}{{ dbt.type_bigint() }}
    {%- elif kind == 'money' -%}{{ money_type() }}
    {%- else -%}{{ exceptions.raise_compiler_error('unknown cast kind ' ~ kind) }}
    {%- endif -%}
{%- endmacro %}

{#- DuckDB and Spark (engines with TRY_CAST). -#}
{% macro default__crm_try_cast(expr, kind) -%}
    {%- if kind in ('bigint', 'money') -%}
        try_cast({{ expr }} as {{ _sql_type_of(kind) }})
    {%- elif kind == 'timestamp' -%}
        {{ to_utc_naive('try_cast(' ~ expr ~ ' as ' ~ instant_type() ~ ')') }}
    {%- elif kind == 'date' -%}
        case
            when length({{ expr }}) = 10 then try_cast({{ expr }} as date)
            else cast({{ to_utc_naive(
                'try_cast(' ~ expr ~ ' as ' ~ instant_type() ~ ')') }} as date)
        end
    {%- else -%}
        {{ exceptions.raise_compiler_error('unknown cast kind ' ~ kind) }}
    {%- endif -%}
{%- endmacro %}

{#-
    PostgreSQL 15 has neither TRY_CAST nor pg_input_is_valid (16+), and a
    plpgsql helper function would live outside dbt. A regular expression
    admits only text the cast accepts (digits bounded so bigint and
    numeric(18,2) cannot overflow).
-#}
{% macro postgres__crm_try_cast(expr, kind) -%}
    {%- set ts_pattern = '^[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}'
        ~ '(:[0-9]{2}([.][0-9]+)?)?(Z|[+-][0-9]{2}(:?[0-9]{2})?)?$' -%}
    {%- set date_pattern = '^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$' -%}
    {%- if kind == 'bigint' -%}
        case
            when {{ expr }} ~ '^[+-]?[0-9]{1,18}$'
                then cast({{ expr }} as bigint)
        end
    {%- elif kind == 'money' -%}
        case
            when {{ expr }} ~ '^[+-]?[0-9]{1,15}([.][0-9]*)?$'
                then cast({{ expr }} as {{ money_type() }})
        end
    {%- elif kind == 'timestamp' -%}
        case
            when {{ expr }} ~ '{{ ts_pattern }}'
                then {{ to_utc_naive('cast(' ~ expr ~ ' as timestamptz)') }}
        end
    {%- elif kind == 'date' -%}
        case
            when {{ expr }} ~ '{{ date_pattern }}'
                then cast({{ expr }} as date)
            when {{ expr }} ~ '{{ ts_pattern }}'
                then cast({{ to_utc_naive(
                    'cast(' ~ expr ~ ' as timestamptz)') }} as date)
        end
    {%- else -%}
        {{ exceptions.raise_compiler_error('unknown cast kind ' ~ kind) }}
    {%- endif -%}
{%- endmacro %}

{#-
    The type of a point in time that text with an offset casts to:
    `timestamptz` on DuckDB; Spark has no timestamptz, and its `timestamp` is
    that instant (text without an offset is read in the session time zone,
    UTC in profiles.example.yml, as DuckDB does with timestamptz).
-#}
{% macro instant_type() -%}
    {{ return(adapter.dispatch('instant_type', 'crm_management')()) }}
{%- endmacro %}

{% macro default__instant_type() -%}
    timestamptz
{%- endmacro %}

{% macro spark__instant_type() -%}
    timestamp
{%- endmacro %}

{#- The contract's varchar (dispatch for engines that spell it otherwise). -#}
{% macro varchar_type() -%}
    {{ return(adapter.dispatch('varchar_type', 'crm_management')()) }}
{%- endmacro %}

{% macro default__varchar_type() -%}
    varchar
{%- endmacro %}

{% macro spark__varchar_type() -%}
    string
{%- endmacro %}

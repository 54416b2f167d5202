{#-
    clean_text(expr): trimmed text with runs of white space collapsed to one
    space; empty text becomes NULL (so it counts as missing).
-#}
{% macro clean_text(expr) -%}
    nullif(trim({{ collapse_spaces(expr) }}), '')
{%- endmacro %}

{#- normalize_label(expr): how seeds spell a label (trim, lower, one space). -#}
{% macro normalize_label(expr) -%}
    lower({{ clean_text(expr) }})
{%- endmacro %}

{% macro collapse_spaces(expr) -%}
    {{ return(adapter.dispatch('collapse_spaces', 'crm_management')(expr)) }}
{%- endmacro %}

{% macro default__collapse_spaces(expr) -%}
    regexp_replace({{ expr }}, '\s+', ' ', 'g')
{%- endmacro %}

{#-
    DuckDB: the regular expression only where it can change something. RE2's
    `\s` is exactly tab, line feed, form feed, carriage return and space, so
    text with none of the first four and no two spaces in a row comes out as
    it went in; `contains` finds that far faster than the replace runs (the
    sales activities' staging at 1,000,000 deals: 1.55 s -> 0.38 s for two
    columns, `make bench`). Same result on every input: data test
    assert_duckdb_fast_paths_match.
-#}
{% macro duckdb__collapse_spaces(expr) -%}
    case
        when
            contains({{ expr }}, '  ')
            or contains({{ expr }}, chr(9))
            or contains({{ expr }}, chr(10))
            or contains({{ expr }}, chr(12))
            or contains({{ expr }}, chr(13))
            then regexp_replace({{ expr }}, '\s+', ' ', 'g')
        else {{ expr }}
    end
{%- endmacro %}

{#- Spark: backslash escapes in literals, and no flags argument. -#}
{% macro spark__collapse_spaces(expr) -%}
    regexp_replace({{ expr }}, '\\s+', ' ')
{%- endmacro %}

{#-
    json_text_object(pairs): JSON object text from [(key, text expr), ...].
    Built by concatenation so that DuckDB and PostgreSQL produce the same
    bytes (their JSON functions format differently). NULL -> null.
-#}
{% macro json_text_object(pairs) -%}
    '{'
    {%- for key, expr in pairs %}
    || '"{{ key }}":' || {{ json_string(expr) }}
    {%- if not loop.last %} || ','{% endif %}
    {%- endfor %}
    || '}'
{%- endmacro %}

{% macro json_string(expr) -%}
    {{ return(adapter.dispatch('json_string', 'crm_management')(expr)) }}
{%- endmacro %}

{% macro default__json_string(expr) -%}
    coalesce('"' || replace(replace(replace({{ expr }}, '\', '\\'),
        '"', '\"'), chr(10), '\n') || '"', 'null')
{%- endmacro %}

{#- Spark reads a backslash in a literal as an escape: each one is doubled. -#}
{% macro spark__json_string(expr) -%}
    coalesce('"' || replace(replace(replace({{ expr }}, '\\', '\\\\'),
        '"', '\\"'), chr(10), '\\n') || '"', 'null')
{%- endmacro %}

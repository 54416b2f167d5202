{#-
    Raw tables and columns that a tenant may lack: the leads module is
    optional in Freshsales (a tenant without it has no raw.leads), an
    extraction can leave objects out (`--objects`), and raw written before
    a column was declared has no such column. Staging reads them through
    these macros, so the models build, empty or NULL, instead of failing.
-#}

{#-
    raw_relation_or_empty(relation, columns): `select * from relation` when
    the raw table exists, else a select of no rows with `columns` (a list
    of (name, SQL type) pairs, the columns the staging model reads). While
    dbt parses, the relation (the source() call records the dependency).
-#}
{% macro raw_relation_or_empty(relation, columns) -%}
    {%- if execute and adapter.get_relation(
            database=relation.database, schema=relation.schema,
            identifier=relation.identifier) is none -%}
    -- {{ relation.identifier }} is not in raw: no rows
    select
        {%- for name, type in columns %}
        cast(null as {{ type }}) as {{ name }}
        {%- if not loop.last %},{% endif %}
        {%- endfor %}
    where 1 = 0
    {%- else -%}
    select * from {{ relation }}
    {%- endif -%}
{%- endmacro %}

{#-
    raw_column_or_null(raw_columns, field, type, source_alias): the raw
    column when the table has it, else a NULL of `type`.
-#}
{% macro raw_column_or_null(raw_columns, field, type, source_alias='source') -%}
    {%- for col in raw_columns if col.name | lower == field | lower -%}
        {{ return(source_alias ~ '.' ~ field) }}
    {%- endfor -%}
    {{ return('cast(null as ' ~ type ~ ')') }}
{%- endmacro %}

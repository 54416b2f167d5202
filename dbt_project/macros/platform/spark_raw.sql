{#-
    Spark reads raw from the Parquet files the extractor's filesystem
    destination writes (`python -m extract run --destination filesystem`):
    `<raw_parquet_url>/<raw schema>/<table>/<load_id>.<file_id>.parquet`.

    An on-run-start hook (dbt_project.yml) registers every table of the
    `freshsales` source in the raw schema, so models keep calling source():

    - `<table>__files`: an external table over the table's folder, dropped
      and created again on every run, so columns a later load added (a new
      custom field, a variant column) are seen; mergeSchema reads them all;
    - `<table>`: a view with the latest version of each record. The files
      are append-only (dlt's merge needs a table format such as Delta), so a
      sync adds the new version of a changed record next to the old one;
      the view keeps the last fetched (`_extracted_at`), which is what merge
      on `id` keeps on DuckDB and PostgreSQL. Selector tables are replaced
      on every run and are read as they are.

    Var `raw_parquet_url` (env RAW_PARQUET_URL): a folder or an object-store
    URL the cluster can read (s3a://, abfss://, gs://, dbfs:/). A relative
    folder is resolved from the directory dbt runs in (the repo root).
    The hook runs its statements itself and renders no SQL; on other
    adapters it does nothing.
-#}
{% macro register_raw_parquet() -%}
    {{ return(adapter.dispatch('register_raw_parquet', 'crm_management')()) }}
{%- endmacro %}

{#- Nothing to register: the hook renders no SQL and runs nothing. -#}
{% macro default__register_raw_parquet() -%}
{%- endmacro %}

{% macro spark__register_raw_parquet() -%}
    {%- if execute -%}
        {%- set url = var('raw_parquet_url') | trim | replace('\\', '/') -%}
        {%- set url = url[:-1] if url.endswith('/') else url -%}
        {%- if ':' not in url and not url.startswith('/') -%}
            {#- Spark would resolve a relative LOCATION against the warehouse
                folder; the JVM runs in dbt's own working directory. -#}
            {%- set cwd = run_query(
                "select reflect('java.lang.System', 'getProperty', 'user.dir')"
            ).columns[0].values()[0] -%}
            {%- set url = cwd ~ '/' ~ url -%}
        {%- endif -%}
        {%- for node in graph.sources.values()
                if node.package_name == project_name
                and node.source_name == 'freshsales' -%}
            {%- if loop.first -%}
                {%- do run_query(
                    'create schema if not exists ' ~ node.schema) -%}
            {%- endif -%}
            {%- do _register_raw_table(
                node, url ~ '/' ~ node.schema ~ '/' ~ node.identifier) -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}

{% macro _register_raw_table(node, location) -%}
    {%- set files = node.schema ~ '.' ~ node.identifier ~ '__files' -%}
    {%- set view = node.schema ~ '.' ~ node.identifier -%}
    {%- do run_query('drop view if exists ' ~ view) -%}
    {%- do run_query('drop table if exists ' ~ files) -%}
    {%- do run_query(
        'create table ' ~ files ~ ' using parquet'
        ~ " options (mergeSchema 'true')"
        ~ " location '" ~ location ~ "'") -%}
    {%- if node.loaded_at_field -%}
        {%- do run_query(_latest_versions_view_sql(
            view, files, node.loaded_at_field)) -%}
    {%- else -%}
        {%- do run_query(
            'create view ' ~ view ~ ' as select * from ' ~ files) -%}
    {%- endif -%}
{%- endmacro %}

{#- The newest fetch of each id; ties (one page read twice) by updated_at. -#}
{% macro _latest_versions_view_sql(view, files, fetched_at) -%}
    create view {{ view }} as
    select * except (_version_rank)
    from (
        select
            *,
            row_number() over (
                partition by id
                order by {{ fetched_at }} desc, updated_at desc
            ) as _version_rank
        from {{ files }}
    )
    where _version_rank = 1
{%- endmacro %}

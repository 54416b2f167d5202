{{ config(enabled=target.type == 'duckdb') }}

-- DuckDB's fast paths of clean_text and to_utc_naive give what the plain
-- expressions give: every text built from the white-space characters (RE2's
-- `\s` and some it leaves alone: vertical tab, no-break and ideographic
-- space) and letters, up to four characters long, and time stamps around
-- offsets, the epoch and the infinities. Returns the inputs that differ.
with

characters as (
    select
        unnest([
            ' ', chr(9), chr(10), chr(11), chr(12), chr(13), chr(160),
            chr(12288), 'a', 'b'
        ]) as ch
),

texts as (
    select '' as sample_text
    union all
    select c1.ch as sample_text from characters as c1
    union all
    select c1.ch || c2.ch as sample_text
    from characters as c1, characters as c2
    union all
    select c1.ch || c2.ch || c3.ch as sample_text
    from characters as c1, characters as c2, characters as c3
    union all
    select c1.ch || c2.ch || c3.ch || c4.ch as sample_text
    from characters as c1, characters as c2, characters as c3, characters as c4
),

texts_differing as (
    select sample_text as sample_input
    from texts
    where
        {{ clean_text('sample_text') }}
        is distinct from
        nullif(trim(regexp_replace(sample_text, '\s+', ' ', 'g')), '')
),

instants as (
    select cast(stamps.stamp as timestamptz) as instant
    from (
        values
        ('2024-03-31 02:30:00+01'), ('2024-10-27 01:30:00-05:30'),
        ('1970-01-01 00:00:00+00'), ('1969-12-31 23:59:59.999999+00'),
        ('1900-01-01 00:00:00.123456+05:30'), ('9999-12-31 23:59:59+00'),
        ('infinity'), ('-infinity'), (null)
    ) as stamps (stamp)
),

instants_differing as (
    select cast(instant as varchar) as sample_input
    from instants
    where
        {{ to_utc_naive('instant') }}
        is distinct from cast(instant at time zone 'UTC' as timestamp)
)

select sample_input from texts_differing
union all
select sample_input from instants_differing

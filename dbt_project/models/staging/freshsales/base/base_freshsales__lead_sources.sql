{{ named_list_staging('lead_sources') }}

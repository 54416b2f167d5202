{{ named_list_staging('lead_stages', optional=true) }}

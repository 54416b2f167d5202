{{ named_list_staging('teams', optional=true) }}

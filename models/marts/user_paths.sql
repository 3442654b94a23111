{#-
  The most common paths through sessions, enough to draw a Sankey: per step (1 = from the
  session's first page or screen to its second) and (from, to) pair, the sessions that made that
  transition; to_path (exit) when the session ended there. Consecutive repeats of a page are one
  step (int_paths__session_steps), bots are left out. Steps 1 to var path_max_steps; per step the
  var path_top_pairs pairs of the most sessions (ties: by from_path, then to_path), the others
  left out, so a step's rows may add up to fewer sessions than it had.
-#}

with

steps as (
    select
        session_id,
        step_index,
        node
    from {{ ref('int_paths__session_steps') }}
),

transitions as (
    select
        step_index,
        node as from_path,
        coalesce(lead(node) over (partition by session_id order by step_index), '(exit)') as to_path
    from steps
),

pairs as (
    select
        step_index,
        from_path,
        to_path,
        count(*) as sessions
    from transitions
    where step_index <= {{ var('path_max_steps') }}
    group by step_index, from_path, to_path
),

ranked as (
    select
        *,
        row_number() over (partition by step_index order by sessions desc, from_path asc, to_path asc) as pair_rank
    from pairs
)

select
    cast(step_index as integer) as step_index,
    from_path,
    to_path,
    cast(sessions as integer) as sessions,
    cast(pair_rank as integer) as pair_rank
from ranked
where pair_rank <= {{ var('path_top_pairs') }}

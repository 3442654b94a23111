-- Which publish of the serving copy the dashboard shows (scripts/sources.sh sets publish_id: the
-- name of the version folder read, a UTC timestamp)
select
    '${publish_id}' as publish_id,
    strptime(left('${publish_id}', 15), '%Y%m%dT%H%M%S') as published_at

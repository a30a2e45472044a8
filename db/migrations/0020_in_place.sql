-- One place filter for the directory's reads (db/directory.py): a row placed at (district,
-- subdistrict, community, unit, member) passes when every bound given matches; a NULL bound is no
-- bound. Used twice per query: once with the caller's scope, once with the filters asked for.
-- A plain SQL function, so the planner inlines it and sees the same conditions as written out.
CREATE FUNCTION in_place(district bigint, subdistrict bigint, community bigint, unit bigint, member bigint,
                         want_district bigint, want_subdistrict bigint, want_community bigint,
                         want_unit bigint, want_member bigint)
RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (want_district IS NULL OR district = want_district)
       AND (want_subdistrict IS NULL OR subdistrict = want_subdistrict)
       AND (want_community IS NULL OR community = want_community)
       AND (want_unit IS NULL OR unit = want_unit)
       AND (want_member IS NULL OR member = want_member)
$$;

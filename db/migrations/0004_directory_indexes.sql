-- Read paths of the API: a member's latest registration and a unit's latest registration are
-- looked up per listed row, and the member name search is a prefix/contains scan.
CREATE INDEX member_registration_member_idx ON member_registration (member_id, id DESC);
CREATE INDEX unit_registration_unit_idx ON unit_registration (unit_id, id DESC);
CREATE INDEX member_home_grid_idx ON member (home_grid_id);

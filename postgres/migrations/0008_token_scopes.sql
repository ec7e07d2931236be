-- API tokens have a scope: 'full' (everything the account may do) or
-- 'read' (list and get only). Tokens from before are full, as they were.
ALTER TABLE tokens ADD COLUMN scope text NOT NULL DEFAULT 'full' CHECK (scope IN ('full', 'read'));

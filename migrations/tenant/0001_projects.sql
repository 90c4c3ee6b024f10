-- Runs with search_path set to the tenant schema only: names stay unqualified.

CREATE TABLE projects (
    id          uuid        NOT NULL,
    name        text        NOT NULL,
    description text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT projects_pkey PRIMARY KEY (id),
    CONSTRAINT ck_projects_name CHECK (char_length(name) BETWEEN 1 AND 200 AND name = btrim(name)),
    CONSTRAINT ck_projects_description_length CHECK (description IS NULL OR char_length(description) <= 1000),
    CONSTRAINT uq_projects_name UNIQUE (name)
);

CREATE INDEX ix_projects_created_at_id ON projects (created_at DESC, id DESC);

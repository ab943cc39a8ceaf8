-- Leads made from website chats (POST /v1/leads/from-chat). chat_id is the chat's id in
-- the dealership's chat tool: the same chat sent again answers the lead it made, so a
-- chat tool may retry without making a second lead. The row is claimed before the lead
-- is written, in the same transaction: of two deliveries at once, one makes the lead and
-- the other answers it.
CREATE TABLE chats (
    tenant_id       text        NOT NULL,
    chat_id         text        NOT NULL,
    lead_id         uuid        NOT NULL,
    contact_id      uuid        NOT NULL,
    activity_id     uuid,
    contact_created boolean     NOT NULL DEFAULT false,
    matched_on      text        NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, chat_id)
);
CREATE INDEX chats_by_lead ON chats (tenant_id, lead_id);

-- Names are searched by prefix (btree) and by one-slip spellings (full-text words) since
-- 0016; nothing reads the trigram index of names any more, and every write of a contact
-- paid for it.
DROP INDEX IF EXISTS contacts_name_trgm;

-- http.fetch's `allowPrivate` setting is now `allowPrivateNetworks`, and it admits only RFC 1918
-- and fc00::/7 unicast (loopback, link-local and metadata addresses are refused whatever it says).
-- Stored settings keep the admin's choice under the new name; a row without the old key is untouched.
UPDATE "Skill"
SET "settings" = ("settings" - 'allowPrivate') || jsonb_build_object('allowPrivateNetworks', "settings" -> 'allowPrivate')
WHERE "key" = 'http.fetch' AND jsonb_typeof("settings") = 'object' AND "settings" ? 'allowPrivate';

-- The description rows were created with claimed "never metadata or loopback ranges"; say what it does.
UPDATE "Skill"
SET "description" = 'Fetch a web page (HTTP GET) and return a text excerpt. Only hosts and ports on the admin''s allowlist; an entry without a port allows only the scheme''s default (http 80, https 443). Addresses must be public, or private-network (10/8, 172.16/12, 192.168/16, fc00::/7) when the admin allows that; loopback, link-local, cloud metadata, multicast and reserved addresses are always refused. Up to 3 redirects, each checked the same way.'
WHERE "key" = 'http.fetch';

/*  bench_search: the contact list's search box over 1,000,000 contacts of one tenant,
    each kind of query beside the same statement run directly through libpq.

    The contacts are loaded straight into contacts.contacts and contact_emails in SQL
    (generate_series; the import path is benched elsewhere): first and last names drawn,
    common ones more often, from lists of a few hundred each (so "mar" matches many
    thousands, as in life), unique addresses made of the name and a number, US numbers in
    E.164 as the API stores them, a vehicle of interest for about a third, types and
    sources spread; and a few thousand contacts of a second tenant. The secondary indexes
    are dropped for the load and made again after it (as a restore would), then ANALYZE.

    Each query set (a few hundred queries drawn at random from the loaded rows, so they
    match) runs once over HTTP with statement logging on, which records the exact
    statement and parameters the service sends for every query, and warms the caches.
    Then, query by query, the search over HTTP (GET /v1/contacts?q=...&limit=50, one
    keep-alive connection) and the logged statement through libpq (unprepared, planned
    for its values, as the service sends it) take turns, so both see the same weather.

    BENCH_SEARCH_ROWS (default 1000000) sets the tenant's row count, BENCH_SEARCH_QUERIES
    (default 200) the queries per set. */
#include "harness.h"

#include <ctype.h>
#include <curl/curl.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static harness_t *h;
static PGconn *s_db;

//  Common US first and last names, most common first (the load favours the front).
static const char *s_first_names[] = {
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David",
    "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas",
    "Sarah", "Christopher", "Karen", "Charles", "Lisa", "Daniel", "Nancy", "Matthew", "Betty",
    "Anthony", "Margaret", "Mark", "Sandra", "Donald", "Ashley", "Steven", "Kimberly", "Paul",
    "Emily", "Andrew", "Donna", "Joshua", "Michelle", "Kenneth", "Carol", "Kevin", "Amanda",
    "Brian", "Dorothy", "George", "Melissa", "Timothy", "Deborah", "Ronald", "Stephanie",
    "Edward", "Rebecca", "Jason", "Sharon", "Jeffrey", "Laura", "Ryan", "Cynthia", "Jacob",
    "Kathleen", "Gary", "Amy", "Nicholas", "Angela", "Eric", "Shirley", "Jonathan", "Anna",
    "Stephen", "Brenda", "Larry", "Pamela", "Justin", "Emma", "Scott", "Nicole", "Brandon",
    "Helen", "Benjamin", "Samantha", "Samuel", "Katherine", "Gregory", "Christine", "Alexander",
    "Debra", "Frank", "Rachel", "Patrick", "Carolyn", "Raymond", "Janet", "Jack", "Catherine",
    "Dennis", "Maria", "Jerry", "Heather", "Tyler", "Diane", "Aaron", "Ruth", "Jose", "Julie",
    "Adam", "Olivia", "Nathan", "Joyce", "Henry", "Virginia", "Douglas", "Victoria", "Zachary",
    "Kelly", "Peter", "Lauren", "Kyle", "Christina", "Ethan", "Joan", "Walter", "Evelyn",
    "Noah", "Judith", "Jeremy", "Megan", "Christian", "Andrea", "Keith", "Cheryl", "Roger",
    "Hannah", "Terry", "Jacqueline", "Gerald", "Martha", "Harold", "Gloria", "Sean", "Teresa",
    "Austin", "Ann", "Carl", "Sara", "Arthur", "Madison", "Lawrence", "Frances", "Dylan",
    "Kathryn", "Jesse", "Janice", "Jordan", "Jean", "Bryan", "Abigail", "Billy", "Alice",
    "Joe", "Julia", "Bruce", "Judy", "Gabriel", "Sophia", "Logan", "Grace", "Albert", "Denise",
    "Willie", "Amber", "Alan", "Doris", "Juan", "Marilyn", "Wayne", "Danielle", "Elijah",
    "Beverly", "Randy", "Isabella", "Roy", "Theresa", "Vincent", "Diana", "Ralph", "Natalie",
    "Eugene", "Brittany", "Russell", "Charlotte", "Bobby", "Marie", "Mason", "Kayla", "Philip",
    "Alexis", "Louis", "Lori", "Marcus", "Marjorie", "Martin", "Marlene", "Mario", "Marion",
    "Marvin", "Marsha", "Mariah", "Marco", "Marisa", "Marian", "Maureen", "Mandy", "Manuel",
    "Ivan", "Igor", "Dmitri", "Olga", "Tatiana", "Chen", "Wei", "Priya", "Raj", "Aisha",
    "Fatima", "Omar", "Yusuf", "Hiroshi", "Yuki", "Sofia", "Lucia", "Mateo", "Diego", "Camila",
    "Valentina", "Liam", "Oliver", "Lucas", "Zoe", "Chloe", "Leah", "Nora", "Hazel", "Ellie",
};
static const char *s_last_names[] = {
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor",
    "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez",
    "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright",
    "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall",
    "Rivera", "Campbell", "Mitchell", "Carter", "Roberts", "Gomez", "Phillips", "Evans",
    "Turner", "Diaz", "Parker", "Cruz", "Edwards", "Collins", "Reyes", "Stewart", "Morris",
    "Morales", "Murphy", "Cook", "Rogers", "Gutierrez", "Ortiz", "Morgan", "Cooper", "Peterson",
    "Bailey", "Reed", "Kelly", "Howard", "Ramos", "Kim", "Cox", "Ward", "Richardson", "Watson",
    "Brooks", "Chavez", "Wood", "James", "Bennett", "Gray", "Mendoza", "Ruiz", "Hughes", "Price",
    "Alvarez", "Castillo", "Sanders", "Patel", "Myers", "Long", "Ross", "Foster", "Jimenez",
    "Powell", "Jenkins", "Perry", "Russell", "Sullivan", "Bell", "Coleman", "Butler",
    "Henderson", "Barnes", "Gonzales", "Fisher", "Vasquez", "Simmons", "Romero", "Jordan",
    "Patterson", "Alexander", "Hamilton", "Graham", "Reynolds", "Griffin", "Wallace", "Moreno",
    "West", "Cole", "Hayes", "Bryant", "Herrera", "Gibson", "Ellis", "Tran", "Medina", "Aguilar",
    "Stevens", "Murray", "Ford", "Castro", "Marshall", "Owens", "Harrison", "Fernandez",
    "McDonald", "Woods", "Washington", "Kennedy", "Wells", "Vargas", "Henry", "Chen", "Freeman",
    "Webb", "Tucker", "Guzman", "Burns", "Crawford", "Olson", "Simpson", "Porter", "Hunter",
    "Gordon", "Mendez", "Silva", "Shaw", "Snyder", "Mason", "Dixon", "Munoz", "Hunt", "Hicks",
    "Holmes", "Palmer", "Wagner", "Black", "Robertson", "Boyd", "Rose", "Stone", "Salazar",
    "Fox", "Warren", "Mills", "Meyer", "Rice", "Schmidt", "Garza", "Daniels", "Ferguson",
    "Nichols", "Stephens", "Soto", "Weaver", "Ryan", "Gardner", "Payne", "Grant", "Dunn",
    "Kelley", "Spencer", "Hawkins", "Arnold", "Pierce", "Vazquez", "Hansen", "Peters", "Santos",
    "Hart", "Bradley", "Knight", "Elliott", "Cunningham", "Duncan", "Armstrong", "Hudson",
    "Carroll", "Lane", "Riley", "Andrews", "Alvarado", "Ray", "Delgado", "Berry", "Perkins",
    "Hoffman", "Johnston", "Matthews", "Pena", "Richards", "Contreras", "Willis", "Carpenter",
    "Lawrence", "Sandoval", "Marsh", "Marks", "Markham", "Margolis", "Marino", "Petrov",
    "Ivanov", "Kowalski", "Novak", "Schneider", "Fischer", "Weber", "Becker", "Rossi", "Russo",
    "Ferrari", "Yamamoto", "Tanaka", "Sato", "Singh", "Kumar", "Shah", "Khan", "Ali", "Haddad",
};
//  Vehicles of interest: make and model.
static const char *s_vehicles[][2] = {
    {"Toyota", "RAV4"},       {"Toyota", "Camry"},     {"Toyota", "Corolla"},
    {"Toyota", "Tacoma"},     {"Toyota", "Highlander"}, {"Honda", "Civic"},
    {"Honda", "Accord"},      {"Honda", "Pilot"},      {"Ford", "Explorer"},
    {"Ford", "Mustang"},      {"Ford", "Escape"},      {"Ford", "Bronco"},
    {"Chevrolet", "Silverado"}, {"Chevrolet", "Equinox"}, {"Chevrolet", "Tahoe"},
    {"Nissan", "Rogue"},      {"Nissan", "Altima"},    {"Jeep", "Wrangler"},
    {"Jeep", "Cherokee"},     {"Hyundai", "Tucson"},   {"Hyundai", "Elantra"},
    {"Kia", "Sportage"},      {"Kia", "Telluride"},    {"Subaru", "Outback"},
    {"Subaru", "Forester"},   {"Mazda", "CX5"},        {"Volkswagen", "Tiguan"},
    {"BMW", "X5"},            {"Tesla", "Model3"},     {"Ram", "Ram1500"},
};
static const char *s_domains[] = {"gmail.com",   "yahoo.com",  "outlook.com", "hotmail.com",
                                  "icloud.com",  "aol.com",    "comcast.net", "att.net",
                                  "verizon.net", "msn.com",    "live.com",    "me.com"};
static const char *s_area_codes[] = {"202", "212", "213", "214", "305", "310", "312", "404",
                                     "415", "503", "512", "602", "617", "646", "702", "713",
                                     "718", "720", "773", "786", "813", "818", "832", "917"};

#define N_OF(a) (sizeof(a) / sizeof *(a))

//  A SQL array literal of the strings: ARRAY['a','b',...].
static char *s_sql_array(const char **items, size_t n, size_t stride) {
    size_t size = 16;
    for (size_t i = 0; i < n; i++)
        size += strlen(items[i * stride]) + 4;
    char *out = malloc(size), *p = out;
    p += sprintf(p, "ARRAY[");
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "%s'%s'", i ? "," : "", items[i * stride]);
    sprintf(p, "]");
    return out;
}

static double s_now_ms(void) {
    return zclock_usecs() / 1000.0;
}

static PGresult *s_sql(const char *sql) {
    PGresult *res = PQexec(s_db, sql);
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        fprintf(stderr, "bench_search: statement failed: %s\ndetail: %.300s\n",
                PQerrorMessage(s_db), sql);
        PQclear(res);
        harness_stop();
        exit(1);
    }
    return res;
}

static void s_exec(const char *sql) {
    PQclear(s_sql(sql));
}

//  INSERT ... SELECT generate_series of n contacts of tenant: names drawn from the lists
//  (index = n * r^2, so the first names of the lists are the common ones), an address of
//  the name and the row number (unique), one or two US numbers, a vehicle of interest
//  for about a third, spread types, sources and assignees. They were created over five
//  years, in row order, and their ids are UUIDv7 of that time, as the service makes them
//  (so the table is in about id order, as a real one is).
static void s_load_tenant(const char *tenant, long n, long first_number) {
    char *firsts = s_sql_array(s_first_names, N_OF(s_first_names), 1);
    char *lasts = s_sql_array(s_last_names, N_OF(s_last_names), 1);
    char *makes = s_sql_array(&s_vehicles[0][0], N_OF(s_vehicles), 2);
    char *models = s_sql_array(&s_vehicles[0][1], N_OF(s_vehicles), 2);
    char *domains = s_sql_array(s_domains, N_OF(s_domains), 1);
    char *areas = s_sql_array(s_area_codes, N_OF(s_area_codes), 1);
    char *sql = zsys_sprintf(
        "INSERT INTO contacts.contacts (tenant_id, id, kind, type, first_name, last_name, name,"
        "  source, emails, phones, assignee, profile, created_at, updated_at)"
        " SELECT '%s', encode(set_byte(overlay(uuid_send(gen_random_uuid()) placing"
        "    substring(int8send((extract(epoch FROM created) * 1000)::bigint) FROM 3) FROM 1"
        "    FOR 6), 6, (get_byte(uuid_send(gen_random_uuid()), 6) & 15) | 112), 'hex')::uuid,"
        "  'person',"
        "  (ARRAY['prospect','prospect','customer','service'])[1 + i %% 4],"
        "  first, last, first || ' ' || last,"
        "  (ARRAY['web','walk_in','phone','referral','third_party','email','chat','import'])"
        "    [1 + (i / 7) %% 8],"
        "  jsonb_build_array(jsonb_build_object('address',"
        "    CASE i %% 3 WHEN 0 THEN lower(first) || '.' || lower(last) || i"
        "                WHEN 1 THEN lower(left(first, 1) || last) || i"
        "                ELSE lower(first) || '_' || lower(left(last, 1)) || i END"
        "    || '@' || (%s)[1 + (i / 3) %% %zu], 'primary', true)),"
        "  jsonb_build_array(jsonb_build_object('number', '+1' || area || exchange || line,"
        "    'type', (ARRAY['mobile','mobile','home','work'])[1 + i %% 4], 'primary', true))"
        "  || CASE WHEN i %% 5 = 0 THEN jsonb_build_array(jsonb_build_object('number',"
        "       '+1' || area || lpad((200 + (i * 7) %% 800)::text, 3, '0') || line, 'type', 'home'))"
        "     ELSE '[]'::jsonb END,"
        "  CASE WHEN i %% 4 = 0 THEN 'sam.lee' WHEN i %% 4 = 1 THEN 'ana.cruz' ELSE '' END,"
        "  CASE WHEN vehicle IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('vehicles',"
        "    jsonb_build_array(jsonb_build_object('relation', 'interest',"
        "      'make', (%s)[vehicle], 'model', (%s)[vehicle]))) END,"
        "  created, created"
        " FROM (SELECT i,"
        "   (%s)[1 + floor(%zu * power(random(), 2))::int] AS first,"
        "   (%s)[1 + floor(%zu * power(random(), 2))::int] AS last,"
        "   (%s)[1 + floor(%zu * random())::int] AS area,"
        "   (200 + floor(800 * random())::int)::text AS exchange,"
        "   lpad(floor(10000 * random())::int::text, 4, '0') AS line,"
        "   CASE WHEN random() < 0.35 THEN 1 + floor(%zu * random())::int END AS vehicle,"
        "   now() - interval '5 years' * (1 - (i - %ld)::float8 / %ld) AS created"
        "  FROM generate_series(%ld, %ld) i OFFSET 0) s",
        tenant, domains, N_OF(s_domains), makes, models, firsts, N_OF(s_first_names), lasts,
        N_OF(s_last_names), areas, N_OF(s_area_codes), N_OF(s_vehicles), first_number, n,
        first_number, first_number + n - 1);
    s_exec(sql);
    zstr_free(&sql);
    sql = zsys_sprintf("INSERT INTO contacts.contact_emails (tenant_id, address_norm, contact_id)"
                       " SELECT tenant_id, lower(e->>'address'), id FROM contacts.contacts,"
                       "   jsonb_array_elements(emails) e WHERE tenant_id = '%s'",
                       tenant);
    s_exec(sql);
    zstr_free(&sql);
    free(firsts);
    free(lasts);
    free(makes);
    free(models);
    free(domains);
    free(areas);
}

//  Load both tenants with contacts' secondary indexes dropped, then make them again
//  from their own definitions (so whatever the migrations say is what is measured).
static void s_load(long rows) {
    double t0 = s_now_ms();
    PGresult *defs = s_sql("SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)"
                           " FROM pg_index i WHERE i.indrelid = 'contacts.contacts'::regclass"
                           "   AND NOT i.indisprimary");
    int n = PQntuples(defs);
    for (int i = 0; i < n; i++) {
        char *sql = zsys_sprintf("DROP INDEX %s", PQgetvalue(defs, i, 0));
        s_exec(sql);
        zstr_free(&sql);
    }
    s_load_tenant("tenant-a", rows, 1);
    s_load_tenant("tenant-b", 5000, rows + 1);
    double t1 = s_now_ms();
    s_exec("SET maintenance_work_mem = '256MB'");
    for (int i = 0; i < n; i++)
        s_exec(PQgetvalue(defs, i, 1));
    PQclear(defs);
    double t2 = s_now_ms();
    s_exec("VACUUM ANALYZE contacts.contacts");
    s_exec("VACUUM ANALYZE contacts.contact_emails");
    double t3 = s_now_ms();
    PGresult *size = s_sql("SELECT pg_size_pretty(pg_total_relation_size('contacts.contacts')),"
                           " pg_size_pretty(pg_indexes_size('contacts.contacts'))");
    printf("\n== load: %ld contacts of tenant-a and 5000 of tenant-b in %.1f s"
           " (rows %.1f s, %d indexes %.1f s, vacuum analyze %.1f s); table %s, its indexes %s\n",
           rows, (t3 - t0) / 1000, (t1 - t0) / 1000, n, (t2 - t1) / 1000, (t3 - t2) / 1000,
           PQgetvalue(size, 0, 0), PQgetvalue(size, 0, 1));
    PQclear(size);
    fflush(stdout);
}

//  --- query sets -----------------------------------------------------------------------

//  What a query should find to count as found: a contact's id among the results, the
//  name of the first result (a misspelled name), or anything at all.
typedef enum { EXPECT_ANY, EXPECT_ID, EXPECT_FIRST_NAME } s_expect_t;

typedef struct {
    char text[160];     // what a person types
    char expect[160];   // an id or a name, by the set's s_expect_t
    //  The statement the service sent for it (from the log) and its parameters.
    char *sql;
    char **params;
    int nparams;
    double http_ms, sql_ms;
    bool found;
} s_query_t;

typedef struct {
    const char *name;
    s_expect_t expect;
    double target_ms;  // p99 target, 0 when none
    s_query_t *queries;
    int n;
} s_set_t;

//  The sample the queries are drawn from: first, last, email, phone, make, model, id.
typedef struct {
    char first[64], last[64], email[128], phone[32], make[32], model[32], id[40];
} s_person_t;

static s_person_t *s_sample(int n, int *got) {
    char *sql = zsys_sprintf("SELECT first_name, last_name, emails->0->>'address',"
                             "  phones->0->>'number', coalesce(profile->'vehicles'->0->>'make', ''),"
                             "  coalesce(profile->'vehicles'->0->>'model', ''), id"
                             " FROM contacts.contacts TABLESAMPLE BERNOULLI (5)"
                             " WHERE tenant_id = 'tenant-a' ORDER BY random() LIMIT %d",
                             n);
    PGresult *res = s_sql(sql);
    zstr_free(&sql);
    *got = PQntuples(res);
    s_person_t *people = calloc(*got, sizeof *people);
    for (int i = 0; i < *got; i++) {
        s_person_t *p = &people[i];
        snprintf(p->first, sizeof p->first, "%s", PQgetvalue(res, i, 0));
        snprintf(p->last, sizeof p->last, "%s", PQgetvalue(res, i, 1));
        snprintf(p->email, sizeof p->email, "%s", PQgetvalue(res, i, 2));
        snprintf(p->phone, sizeof p->phone, "%s", PQgetvalue(res, i, 3));
        snprintf(p->make, sizeof p->make, "%s", PQgetvalue(res, i, 4));
        snprintf(p->model, sizeof p->model, "%s", PQgetvalue(res, i, 5));
        snprintf(p->id, sizeof p->id, "%s", PQgetvalue(res, i, 6));
    }
    PQclear(res);
    return people;
}

static void s_lower(char *s) {
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

//  A real full name with one slip: two neighbouring letters swapped, or one dropped.
static void s_misspell(const s_person_t *p, char *out, size_t size) {
    char word[2][64];
    snprintf(word[0], sizeof word[0], "%s", p->first);
    snprintf(word[1], sizeof word[1], "%s", p->last);
    char *w = word[rand() % 2];
    size_t len = strlen(w);
    if (len >= 4) {
        size_t at = 1 + rand() % (len - 2); // never the first letter: people get that right
        if (rand() % 2 && w[at] != w[at + 1]) {
            char c = w[at];
            w[at] = w[at + 1];
            w[at + 1] = c;
        } else
            memmove(w + at, w + at + 1, len - at);
    }
    snprintf(out, size, "%s %s", word[0], word[1]);
}

//  Fill the sets from the sample.
static void s_make_sets(s_set_t *sets, size_t n_sets, const s_person_t *people, int n_people,
                        int per_set) {
    for (size_t s = 0; s < n_sets; s++) {
        sets[s].queries = calloc(per_set, sizeof *sets[s].queries);
        sets[s].n = 0;
    }
    int next = 0, skipped = 0;
    for (size_t s = 0; s < n_sets; s++) {
        for (int i = 0; i < per_set; i++) {
            const s_person_t *p = &people[next++ % n_people];
            s_query_t *q = &sets[s].queries[sets[s].n];
            const char *name = sets[s].name;
            q->expect[0] = 0;
            if (strcmp(name, "email whole") == 0) {
                snprintf(q->text, sizeof q->text, "%s", p->email);
                snprintf(q->expect, sizeof q->expect, "%s", p->id);
            } else if (strcmp(name, "email part") == 0) {
                //  The address up to three letters of its domain: "mthompson42@gma".
                const char *at = strchr(p->email, '@');
                snprintf(q->text, sizeof q->text, "%.*s", (int)(at - p->email) + 4, p->email);
                snprintf(q->expect, sizeof q->expect, "%s", p->id);
            } else if (strcmp(name, "phone typed") == 0) {
                //  +12025550142 typed as (202) 555-0142.
                snprintf(q->text, sizeof q->text, "(%.3s) %.3s-%.4s", p->phone + 2, p->phone + 5,
                         p->phone + 8);
                snprintf(q->expect, sizeof q->expect, "%s", p->id);
            } else if (strcmp(name, "phone last 4") == 0) {
                snprintf(q->text, sizeof q->text, "%s", p->phone + strlen(p->phone) - 4);
            } else if (strcmp(name, "name prefix") == 0) {
                //  "mar", "marg", "margaret th" in turn.
                if (i % 3 == 0)
                    snprintf(q->text, sizeof q->text, "%.3s", p->first);
                else if (i % 3 == 1)
                    snprintf(q->text, sizeof q->text, "%.4s", p->first);
                else
                    snprintf(q->text, sizeof q->text, "%s %.2s", p->first, p->last);
                s_lower(q->text);
            } else if (strcmp(name, "misspelled name") == 0) {
                s_misspell(p, q->text, sizeof q->text);
                snprintf(q->expect, sizeof q->expect, "%s %s", p->first, p->last);
            } else if (strcmp(name, "vehicle word") == 0) {
                if (!p->make[0] && skipped++ < n_people) {
                    i--; // this one has no vehicle of interest: the next person
                    continue;
                }
                snprintf(q->text, sizeof q->text, "%s", i % 2 ? p->make : p->model);
            }
            sets[s].n++;
        }
    }
}

//  --- HTTP -----------------------------------------------------------------------------

static CURL *s_curl;
static struct curl_slist *s_headers;

static size_t s_on_body(char *data, size_t size, size_t n, void *arg) {
    zchunk_extend((zchunk_t *)arg, data, size * n);
    return size * n;
}

//  GET /v1/contacts?q=text&limit=50 on the keep-alive connection; the parsed body (or
//  NULL) and the time taken in ms.
static json_t *s_http_search(const char *text, double *ms) {
    if (!s_curl) {
        s_curl = curl_easy_init();
        char auth[128];
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", h->key_a);
        s_headers = curl_slist_append(NULL, auth);
        curl_easy_setopt(s_curl, CURLOPT_HTTPHEADER, s_headers);
        curl_easy_setopt(s_curl, CURLOPT_WRITEFUNCTION, s_on_body);
        curl_easy_setopt(s_curl, CURLOPT_TIMEOUT_MS, 60000L);
        curl_easy_setopt(s_curl, CURLOPT_TCP_NODELAY, 1L);
    }
    char *escaped = curl_easy_escape(s_curl, text, 0);
    char url[512];
    snprintf(url, sizeof url, "%s/v1/contacts?q=%s&limit=50", h->http_url, escaped);
    curl_free(escaped);
    zchunk_t *body = zchunk_new(NULL, 65536);
    curl_easy_setopt(s_curl, CURLOPT_URL, url);
    curl_easy_setopt(s_curl, CURLOPT_WRITEDATA, body);
    double t0 = s_now_ms();
    CURLcode rc = curl_easy_perform(s_curl);
    *ms = s_now_ms() - t0;
    long status = 0;
    curl_easy_getinfo(s_curl, CURLINFO_RESPONSE_CODE, &status);
    json_t *json = NULL;
    if (rc == CURLE_OK && status == 200)
        json = json_loadb((const char *)zchunk_data(body), zchunk_size(body), 0, NULL);
    else
        fprintf(stderr, "bench_search: GET q=%s: %s %ld %.*s\n", text, curl_easy_strerror(rc),
                status, (int)zchunk_size(body), (const char *)zchunk_data(body));
    zchunk_destroy(&body);
    return json;
}

//  Did the answer find what q expects?
static bool s_found(const s_set_t *set, const s_query_t *q, json_t *json) {
    json_t *items = json_object_get(json, "items");
    if (json_array_size(items) == 0)
        return false;
    if (set->expect == EXPECT_ANY)
        return true;
    if (set->expect == EXPECT_FIRST_NAME) {
        const char *name = json_string_value(json_object_get(json_array_get(items, 0), "name"));
        return name && strcasecmp(name, q->expect) == 0;
    }
    for (size_t i = 0; i < json_array_size(items); i++) {
        const char *id = json_string_value(json_object_get(json_array_get(items, i), "id"));
        if (id && strcmp(id, q->expect) == 0)
            return true;
    }
    return false;
}

//  --- the statements the service sent, from the server's log ----------------------------

static char s_log_path[300];

static long s_log_size(void) {
    FILE *f = fopen(s_log_path, "r");
    if (!f)
        return 0;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    return size;
}

static void s_statement_logging(bool on) {
    s_exec(on ? "ALTER SYSTEM SET log_min_duration_statement = 0"
              : "ALTER SYSTEM RESET log_min_duration_statement");
    s_exec("SELECT pg_reload_conf()");
    zclock_sleep(300); // every backend rereads the configuration before its next command
}

//  Parse "$1 = 'a', $2 = 'it''s', $3 = NULL" into values (NULL for NULL).
static int s_parse_parameters(const char *s, char ***values_out) {
    int cap = 32, n = 0;
    char **values = calloc(cap, sizeof *values);
    while ((s = strchr(s, '$'))) {
        int number;
        int used = 0;
        if (sscanf(s, "$%d = %n", &number, &used) != 1 || used == 0)
            break;
        s += used;
        char *value = NULL;
        if (*s == '\'') {
            s++;
            value = malloc(strlen(s) + 1);
            char *p = value;
            while (*s && !(*s == '\'' && s[1] != '\''))
                if (*s == '\'')
                    *p++ = '\'', s += 2;
                else
                    *p++ = *s++;
            *p = 0;
            if (*s)
                s++;
        } else if (strncmp(s, "NULL", 4) == 0)
            s += 4;
        if (number < 1 || number > cap)
            break;
        values[number - 1] = value;
        if (number > n)
            n = number;
    }
    *values_out = values;
    return n;
}

//  The list statements ("execute <unnamed>: SELECT ... FROM contacts c ...") logged since
//  offset, in order, into the set's queries. Returns how many were found.
static int s_read_statements(long offset, s_set_t *set) {
    FILE *f = fopen(s_log_path, "r");
    if (!f)
        return 0;
    fseek(f, offset, SEEK_SET);
    char *line = NULL;
    size_t cap = 0;
    int found = 0;
    s_query_t *pending = NULL;
    while (getline(&line, &cap, f) > 0) {
        line[strcspn(line, "\n")] = 0;
        char *stmt = strstr(line, "execute <unnamed>: ");
        if (stmt && strstr(stmt, " FROM contacts c WHERE c.tenant_id = $1")) {
            if (found >= set->n)
                break;
            pending = &set->queries[found++];
            pending->sql = strdup(stmt + strlen("execute <unnamed>: "));
            continue;
        }
        char *params = strstr(line, "DETAIL:  parameters: ");
        if (params && pending) {
            pending->nparams =
                s_parse_parameters(params + strlen("DETAIL:  parameters: "), &pending->params);
            pending = NULL;
        }
    }
    free(line);
    fclose(f);
    return found;
}

//  --- measuring --------------------------------------------------------------------------

static int s_cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

//  The p-th percentile (0 < p <= 100) of n values, sorted in place.
static double s_percentile(double *v, int n, double p) {
    if (n == 0)
        return 0;
    qsort(v, n, sizeof *v, s_cmp_double);
    int at = (int)ceil(p / 100.0 * n) - 1;
    return v[at < 0 ? 0 : at];
}

static double s_run_sql(const s_query_t *q) {
    double t0 = s_now_ms();
    PGresult *res = PQexecParams(s_db, q->sql, q->nparams, NULL, (const char *const *)q->params,
                                 NULL, NULL, 0);
    double ms = s_now_ms() - t0;
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        fprintf(stderr, "bench_search: logged statement failed: %s", PQerrorMessage(s_db));
    PQclear(res);
    return ms;
}

typedef struct {
    double http_p50, http_p99, http_max, sql_p50, sql_p99;
    int found;
} s_result_t;

//  Run a set: the logging pass (statements, warm caches), then HTTP and SQL in turns.
static s_result_t s_run_set(s_set_t *set) {
    s_result_t r = {0};
    long offset = s_log_size();
    s_statement_logging(true);
    for (int i = 0; i < set->n; i++) {
        double ms;
        json_decref(s_http_search(set->queries[i].text, &ms));
    }
    s_statement_logging(false);
    int logged = s_read_statements(offset, set);
    if (logged != set->n) {
        fprintf(stderr, "bench_search: %d statements logged for %d queries of %s (log %s)\n",
                logged, set->n, set->name, s_log_path);
        harness_stop();
        exit(1);
    }
    double *http = calloc(set->n, sizeof *http), *sql = calloc(set->n, sizeof *sql);
    for (int i = 0; i < set->n; i++) {
        s_query_t *q = &set->queries[i];
        json_t *json = s_http_search(q->text, &q->http_ms);
        q->found = s_found(set, q, json);
        r.found += q->found;
        json_decref(json);
        q->sql_ms = s_run_sql(q);
        http[i] = q->http_ms;
        sql[i] = q->sql_ms;
    }
    r.http_p50 = s_percentile(http, set->n, 50);
    r.http_p99 = s_percentile(http, set->n, 99);
    r.http_max = set->n > 0 ? http[set->n - 1] : 0;
    r.sql_p50 = s_percentile(sql, set->n, 50);
    r.sql_p99 = s_percentile(sql, set->n, 99);
    free(http);
    free(sql);
    return r;
}

//  The slowest query of a set (for EXPLAIN when a target is missed).
static const s_query_t *s_slowest(const s_set_t *set) {
    const s_query_t *worst = &set->queries[0];
    for (int i = 1; i < set->n; i++)
        if (set->queries[i].http_ms > worst->http_ms)
            worst = &set->queries[i];
    return worst;
}

int main(void) {
    long rows = getenv("BENCH_SEARCH_ROWS") ? atol(getenv("BENCH_SEARCH_ROWS")) : 1000000;
    int per_set = getenv("BENCH_SEARCH_QUERIES") ? atoi(getenv("BENCH_SEARCH_QUERIES")) : 200;
    if (rows < 1000)
        rows = 1000;
    if (per_set < 10)
        per_set = 10;
    srand(42);
    const char *env[] = {getenv("CRM_LOG_LEVEL") ? "CRM_BENCH=1" : "CRM_LOG_LEVEL=warn", NULL};
    double started = s_now_ms();
    h = harness_start(env);
    snprintf(s_log_path, sizeof s_log_path, "%s/pg/postgres.log", h->dir);
    s_db = PQconnectdb(h->dsn);
    if (PQstatus(s_db) != CONNECTION_OK) {
        fprintf(stderr, "bench_search: could not connect to database: %s", PQerrorMessage(s_db));
        return 1;
    }
    //  As the contacts daemon's session (common/db.c): its schema first, and generic
    //  plans, which PostgreSQL makes for the unnamed statements of the extended protocol
    //  too, the service's search among them.
    s_exec("SET search_path TO contacts, public");

    s_load(rows);
    s_exec("SET plan_cache_mode = force_generic_plan");

    s_set_t sets[] = {
        {"email whole", EXPECT_ID, 25, NULL, 0},   {"email part", EXPECT_ID, 25, NULL, 0},
        {"phone typed", EXPECT_ID, 25, NULL, 0},   {"phone last 4", EXPECT_ANY, 25, NULL, 0},
        {"name prefix", EXPECT_ANY, 25, NULL, 0},  {"misspelled name", EXPECT_FIRST_NAME, 100, NULL, 0},
        {"vehicle word", EXPECT_ANY, 0, NULL, 0},
    };
    size_t n_sets = N_OF(sets);
    int n_people = 0;
    s_person_t *people = s_sample(per_set * (int)n_sets * 2, &n_people);
    if (n_people == 0) {
        fprintf(stderr, "bench_search: no contacts to draw queries from\n");
        return 1;
    }
    s_make_sets(sets, n_sets, people, n_people, per_set);
    free(people);

    printf("\n== search over %ld contacts of one tenant: GET /v1/contacts?q=...&limit=50"
           " (one client) vs the same statement through libpq, %d queries a set\n",
           rows, per_set);
    printf("   %-16s %8s %8s %8s | %8s %8s | %6s | %7s %-6s | %s\n", "set", "http p50",
           "p99", "max", "sql p50", "p99", "ratio", "target", "", "found");
    bool all_pass = true;
    for (size_t s = 0; s < n_sets; s++) {
        s_result_t r = s_run_set(&sets[s]);
        char target[16] = "-";
        const char *verdict = "";
        if (sets[s].target_ms > 0) {
            snprintf(target, sizeof target, "<%.0f", sets[s].target_ms);
            verdict = r.http_p99 < sets[s].target_ms ? "PASS" : "FAIL";
            all_pass = all_pass && r.http_p99 < sets[s].target_ms;
        }
        printf("   %-16s %8.2f %8.2f %8.2f | %8.2f %8.2f | %6.2f | %7s %-6s | %d/%d\n",
               sets[s].name, r.http_p50, r.http_p99, r.http_max, r.sql_p50, r.sql_p99,
               r.sql_p99 > 0 ? r.http_p99 / r.sql_p99 : 0, target, verdict, r.found,
               sets[s].n);
        fflush(stdout);
    }
    printf("   ms; ratio: HTTP p99 / SQL p99; found: the drawn contact among the results"
           " (email, phone typed),\n   the intended name first (misspelled), any result"
           " (the others)\n");
    printf("\n== slowest query of each set (HTTP ms, SQL ms)\n");
    for (size_t s = 0; s < n_sets; s++) {
        const s_query_t *q = s_slowest(&sets[s]);
        printf("   %-16s %-28s %8.2f %8.2f\n", sets[s].name, q->text, q->http_ms, q->sql_ms);
    }

    printf("\n== resident memory after the run (target: no process above 200 MiB)\n");
    const char *daemons[] = {"gateway", "contacts"};
    for (size_t i = 0; i < N_OF(daemons); i++) {
        pid_t pid = harness_daemon_pid(daemons[i]);
        long rss = harness_status_kib(pid, "VmRSS"), peak = harness_status_kib(pid, "VmHWM");
        printf("   crm-%-10s %7.1f MiB now, %7.1f MiB peak  %s\n", daemons[i], rss / 1024.0,
               peak / 1024.0, peak < 200 * 1024 ? "PASS" : "FAIL");
    }
    printf("\n== %s; whole run %.0f s\n", all_pass ? "every target met" : "a target missed",
           (s_now_ms() - started) / 1000);

    for (size_t s = 0; s < n_sets; s++) {
        for (int i = 0; i < sets[s].n; i++) {
            s_query_t *q = &sets[s].queries[i];
            for (int k = 0; k < q->nparams; k++)
                free(q->params[k]);
            free(q->params);
            free(q->sql);
        }
        free(sets[s].queries);
    }
    if (s_curl)
        curl_easy_cleanup(s_curl);
    curl_slist_free_all(s_headers);
    PQfinish(s_db);
    harness_stop();
    return 0;
}

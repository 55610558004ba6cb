"""The catalogue as a DCAT harvester reads it (scripts/catalog runs this against a live service).

Environment: BACKEND (a name for the output), BASE (where the service listens), TOKEN (an admin
token), WORK (a folder for downloads; the dataset IRIs are written to iris-BACKEND.txt there).
The service runs with PUBLIC_BASE_URL=https://strategy.example.jp: every IRI and URL must use it.
"""

import json
import os
import pathlib
import urllib.error
import urllib.request

import frictionless
import pyshacl
import rdflib
from rdflib.compare import isomorphic

backend, base, token = os.environ["BACKEND"], os.environ["BASE"], os.environ["TOKEN"]
work = pathlib.Path(os.environ["WORK"])
public = "https://strategy.example.jp"
PREFIXES = """
PREFIX dcat: <http://www.w3.org/ns/dcat#>
PREFIX dct: <http://purl.org/dc/terms/>
PREFIX foaf: <http://xmlns.com/foaf/0.1/>
PREFIX vcard: <http://www.w3.org/2006/vcard/ns#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX xsd: <http://www.w3.org/2001/XMLSchema#>
"""


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


opener = urllib.request.build_opener(NoRedirect)


def call(method, path, body=None, etag=None, accept=None):
    headers = {"Authorization": f"Bearer {token}"}
    if body is not None:
        headers["Content-Type"] = "application/merge-patch+json"
    if etag:
        headers["If-Match"] = etag
    if accept:
        headers["Accept"] = accept
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, headers=headers, method=method)
    try:
        with opener.open(request) as response:
            return response.status, response.read(), response.headers
    except urllib.error.HTTPError as error:
        return error.code, error.read(), error.headers


def local(url):
    assert url.startswith(public), f"{url} is under PUBLIC_BASE_URL"
    return url[len(public):]


def harvest():
    graphs = []
    for path, media, form in [("/catalog.ttl", "text/turtle", "turtle"), ("/catalog.jsonld", "application/ld+json", "json-ld")]:
        status, body, headers = call("GET", path)
        assert status == 200, (path, status, body[:300])
        assert headers["Content-Type"].startswith(media), (path, headers["Content-Type"])
        graphs.append(rdflib.Graph().parse(data=body, format=form, publicID=public + path))
    turtle, json_ld = graphs
    assert len(turtle) > 100 and isomorphic(turtle, json_ld), (
        f"the two serialisations hold the same graph: {len(turtle)} and {len(json_ld)} triples"
    )
    return turtle


SHAPES = rdflib.Graph()
for shapes_file in ["shapes.ttl", "shapes_recommended.ttl", "range.ttl"]:
    SHAPES.parse(pathlib.Path(__file__).parent.parent / "tests/fixtures/dcat-ap-3.0.1" / shapes_file, format="turtle")
SH = rdflib.Namespace("http://www.w3.org/ns/shacl#")


def shacl(graph):
    """The DCAT-AP 3.0.1 shapes' results: violations, and warnings (recommended properties missing)."""
    _, report, _ = pyshacl.validate(graph, shacl_graph=SHAPES, allow_warnings=True)
    found = {"violation": [], "warning": []}
    for result in report.subjects(rdflib.RDF.type, SH.ValidationResult):
        severity = "violation" if report.value(result, SH.resultSeverity) == SH.Violation else "warning"
        found[severity].append((str(report.value(result, SH.focusNode)), str(report.value(result, SH.resultPath))))
    return found


def ask(graph, query, **bindings):
    result = graph.query(PREFIXES + query, initBindings=bindings)
    return list(result)


def require(graph, subject, kind, properties):
    """Each property (a SPARQL path, optionally with a FILTER on ?value) has a value on subject."""
    missing = [
        name
        for name, pattern in properties.items()
        if not graph.query(PREFIXES + f"ASK {{ ?subject {pattern} }}", initBindings={"subject": subject}).askAnswer
    ]
    assert not missing, f"{kind} {subject} lacks {missing}"


graph = harvest()
catalogs = [row[0] for row in ask(graph, "SELECT ?catalog WHERE { ?catalog a dcat:Catalog }")]
assert catalogs == [rdflib.URIRef(public + "/catalog")], catalogs
catalog = catalogs[0]
require(graph, catalog, "catalogue", {
    "title@ja": 'dct:title ?value FILTER(lang(?value) = "ja")',
    "title@en": 'dct:title ?value FILTER(lang(?value) = "en")',
    "description@ja": 'dct:description ?value FILTER(lang(?value) = "ja")',
    "description@en": 'dct:description ?value FILTER(lang(?value) = "en")',
    "publisher (foaf:Organization, name@ja, local government code)":
        'dct:publisher ?value . ?value a foaf:Organization ; foaf:name ?name ; dct:identifier "142123" FILTER(lang(?name) = "ja")',
    "homepage": "foaf:homepage ?value",
    "language": "dct:language <http://publications.europa.eu/resource/authority/language/JPN>",
    "issued": "dct:issued ?value",
    "modified": "dct:modified ?value FILTER(datatype(?value) = xsd:dateTime)",
    "licence or rights": "(dct:license|dct:rights) ?value",
    "themeTaxonomy": "dcat:themeTaxonomy <http://publications.europa.eu/resource/authority/data-theme>",
    "spatial": "dct:spatial <http://data.e-stat.go.jp/lod/sac/C14212>",
    "dataset": "dcat:dataset ?value",
})

plan = json.loads(call("GET", "/api/v1/plans?code=atsugi-2")[1])["items"][0]
dataset = rdflib.URIRef(f"{public}/catalog#dataset-atsugi-2")
DATASET = {
    "title@ja": 'dct:title "第2期厚木市まち・ひと・しごと創生総合戦略"@ja',
    "description@ja": 'dct:description ?value FILTER(lang(?value) = "ja")',
    "keyword@ja": 'dcat:keyword "地方創生"@ja',
    "theme GOVE": "dcat:theme <http://publications.europa.eu/resource/authority/data-theme/GOVE>",
    "spatial (e-Stat area code)": "dct:spatial <http://data.e-stat.go.jp/lod/sac/C14212>",
    "temporal (the plan period)":
        'dct:temporal ?value . ?value a dct:PeriodOfTime ; dcat:startDate "2021-04-01"^^xsd:date ; dcat:endDate "2027-03-31"^^xsd:date',
    "accrualPeriodicity annual": "dct:accrualPeriodicity <http://publications.europa.eu/resource/authority/frequency/ANNUAL>",
    "landingPage (the report page)": f"dcat:landingPage <{public}/plans/{plan['id']}>",
    "conformsTo the data package": "dct:conformsTo <https://datapackage.org/profiles/2.0/datapackage.json>",
    "publisher": "dct:publisher/foaf:name ?value",
    "identifier": 'dct:identifier "atsugi-2"',
    "issued": "dct:issued ?value",
    "modified": "dct:modified ?value",
    "distribution": "dcat:distribution ?value",
}
DISTRIBUTION = {
    "title": "dct:title ?value",
    "accessURL": "dcat:accessURL ?value",
    "downloadURL": "dcat:downloadURL ?value",
    "mediaType (IANA)": 'dcat:mediaType ?value FILTER(STRSTARTS(STR(?value), "https://www.iana.org/assignments/media-types/"))',
    "format (EU file type)": 'dct:format ?value FILTER(STRSTARTS(STR(?value), "http://publications.europa.eu/resource/authority/file-type/"))',
    "licence or rights": "(dct:license|dct:rights) ?value",
    "modified": "dct:modified ?value",
}
require(graph, dataset, "dataset", DATASET)
require(graph, catalog, "catalogue", {"the dataset": f"dcat:dataset <{dataset}>"})

# No licence is set in the bundled plan: the catalogue says so, and invents none.
assert not ask(graph, "SELECT ?licence WHERE { ?dataset dct:license ?licence }", dataset=dataset)
rights = ask(graph, "SELECT ?label WHERE { ?dataset dct:rights/rdfs:label ?label }", dataset=dataset)
assert any("ライセンスは設定されていません" in str(label) for (label,) in rights), rights

# The official DCAT-AP 3.0.1 shapes: no violation; of the recommended properties, only the contact
# point and the licence the city has not stated yet are missing, and the area's bbox and centroid
# (the service has no geometry for it: e-Stat's LOD has, under the same IRI).
AREA = "http://data.e-stat.go.jp/lod/sac/C14212"
UNKNOWN_GEOMETRY = {(AREA, "http://www.w3.org/ns/dcat#bbox"), (AREA, "http://www.w3.org/ns/dcat#centroid")}
found = shacl(graph)
assert found["violation"] == [], found["violation"]
missing = {path.rsplit("/", 1)[-1].rsplit("#", 1)[-1] for focus, path in set(found["warning"]) - UNKNOWN_GEOMETRY}
assert missing == {"contactPoint", "license"}, found["warning"]

# An admin states the licence and whom to ask; the next harvest carries both.
path = f"/api/v1/plans/{plan['id']}"
etag = call("GET", path)[2]["ETag"]
status, body, _ = call("PATCH", path, {
    "licence": "CC BY 4.0",
    "licence_url": "https://creativecommons.org/licenses/by/4.0/",
    "contact_name": "政策部企画政策課",
    "contact_email": "kikaku@city.example.jp",
    "contact_url": "https://www.city.example.jp/contact/",
}, etag)
assert status == 200, (status, body)
graph = harvest()
require(graph, dataset, "dataset", {
    **DATASET,
    "licence": "dct:license <https://creativecommons.org/licenses/by/4.0/>",
    "contactPoint":
        'dcat:contactPoint ?value . ?value a vcard:Organization ; vcard:fn "政策部企画政策課"@ja ; vcard:hasEmail <mailto:kikaku@city.example.jp> ; vcard:hasURL <https://www.city.example.jp/contact/>',
})
assert not ask(graph, "SELECT ?rights WHERE { ?dataset dct:rights ?rights }", dataset=dataset)
found = shacl(graph)
# The licence document's ADMS licence type is left to the licence's own description: the service
# does not classify licences.
unstated = UNKNOWN_GEOMETRY | {("https://creativecommons.org/licenses/by/4.0/", "http://purl.org/dc/terms/type")}
assert found["violation"] == [] and set(found["warning"]) <= unstated, found

distributions = ask(graph, """
    SELECT ?distribution ?url ?media ?schema WHERE {
        ?dataset dcat:distribution ?distribution .
        ?distribution dcat:downloadURL ?url ; dcat:mediaType ?media .
        OPTIONAL { ?distribution dct:conformsTo ?schema }
    } ORDER BY ?url""", dataset=dataset)
assert len(distributions) == 10, [str(row[1]) for row in distributions]
csv_files = 0
for distribution, url, media, schema in distributions:
    require(graph, distribution, "distribution", {
        **DISTRIBUTION, "licence": "dct:license <https://creativecommons.org/licenses/by/4.0/>",
    })
    media_type = str(media).removeprefix("https://www.iana.org/assignments/media-types/")
    status, body, headers = call("GET", local(str(url)))
    assert status == 200, (str(url), status, body[:300])
    assert headers["Content-Type"].split(";")[0] == media_type, (str(url), headers["Content-Type"], media_type)
    if schema is not None and str(schema).startswith(public):
        status, schema_body, _ = call("GET", local(str(schema)))
        assert status == 200, (str(schema), status)
    else:
        assert schema is None or str(schema) == "https://datapackage.org/profiles/2.0/datapackage.json", str(schema)
    if media_type == "text/csv":
        assert schema is not None, f"{url} names its Table Schema"
        file = work / f"{backend}-{csv_files}.csv"
        file.write_bytes(body)
        resource = frictionless.Resource(
            path=file.name, basepath=str(work), schema=frictionless.Schema.from_descriptor(json.loads(schema_body))
        )
        report = resource.validate()
        assert report.valid, (str(url), report.flatten(["rowNumber", "fieldName", "type", "note"])[:10])
        csv_files += 1
assert csv_files == 7, csv_files

status, _, headers = call("GET", "/catalog", accept="application/ld+json, text/turtle;q=0.5")
assert status == 303 and headers["Location"] == public + "/catalog.jsonld", (status, headers["Location"])
status, _, headers = call("GET", "/catalog", accept="text/turtle")
assert status == 303 and headers["Location"] == public + "/catalog.ttl", (status, headers["Location"])
status, _, headers = call("GET", "/catalog", accept="application/ld+json;q=0, text/turtle;q=0.1")
assert status == 303 and headers["Location"] == public + "/catalog.ttl", "q=0 refuses a type"

# Records as linked data: JSON-LD under the context the service publishes (given to rdflib as a
# harvester's document loader would, since the public address is not this test's), each record
# named by its IRI and the plan tied to its municipality's e-Stat area code; every term of the
# service's own vocabulary has its anchor on /vocab.
status, context_body, _ = call("GET", "/api/v1/context.jsonld")
assert status == 200, status
context = json.loads(context_body)["@context"]
vocabulary = public + "/vocab#"
assert context["@vocab"] == vocabulary, context["@vocab"]


def linked(path):
    status, body, headers = call("GET", path, accept="application/ld+json")
    assert status == 200 and headers["Content-Type"] == "application/ld+json", (path, status, headers["Content-Type"])
    document = json.loads(body)
    assert document["@context"] == public + "/api/v1/context.jsonld", document["@context"]
    document["@context"] = context
    return rdflib.Graph().parse(data=json.dumps(document), format="json-ld"), headers


plan_iri = rdflib.URIRef(f"{public}/api/v1/plans/{plan['id']}")
record, headers = linked(f"/api/v1/plans/{plan['id']}")
assert headers["Link"] == f'<{plan_iri}>; rel="canonical"', headers["Link"]
DCT = rdflib.Namespace("http://purl.org/dc/terms/")
SCHEMA = rdflib.Namespace("https://schema.org/")
assert (plan_iri, rdflib.RDF.type, rdflib.URIRef(vocabulary + "Plan")) in record
assert (plan_iri, DCT.spatial, rdflib.URIRef("http://data.e-stat.go.jp/lod/sac/C14212")) in record
assert (plan_iri, SCHEMA.name, rdflib.Literal("第2期厚木市まち・ひと・しごと創生総合戦略")) in record
assert (plan_iri, DCT.identifier, rdflib.Literal("atsugi-2")) in record
page, _ = linked(f"/api/v1/kpis?plan={plan['id']}&limit=3")
kpis = sorted(page.subjects(rdflib.RDF.type, rdflib.URIRef(vocabulary + "Kpi")))
assert len(kpis) == 3 and all(str(kpi).startswith(public + "/api/v1/kpis/") for kpi in kpis), kpis
terms = {str(predicate)[len(vocabulary):] for graph_ in (record, page) for predicate in graph_.predicates() if str(predicate).startswith(vocabulary)}
status, vocabulary_page, _ = call("GET", "/vocab")
assert status == 200, status
undefined = sorted(term for term in terms if f'id="{term}"'.encode() not in vocabulary_page)
assert not undefined, f"/vocab has no anchor for {undefined}"

iris = sorted({str(subject) for subject in graph.subjects() if str(subject).startswith(public + "/catalog")})
(work / f"iris-{backend}.txt").write_text("\n".join(iris) + "\n")
print(
    f"catalog ({backend}): rdflib {rdflib.__version__} reads the same {len(graph)} triples from Turtle and JSON-LD; "
    f"the DCAT-AP 3.0.1 shapes (pyshacl {pyshacl.__version__}) find no violation and no recommended property missing "
    f"but the area's geometry and the licence's type; "
    f"the DCAT-AP properties of the catalogue, {len(list(graph.subjects(rdflib.RDF.type, rdflib.URIRef('http://www.w3.org/ns/dcat#Dataset'))))} "
    f"dataset(s) and {len(distributions)} distributions are there; the licence and contact point an admin set are "
    f"harvested; {csv_files} CSV files validate against the Table Schemas they name (frictionless {frictionless.__version__}); "
    f"records read as JSON-LD under their IRIs, the plan linked to its e-Stat area code, {len(terms)} terms of /vocab defined there"
)

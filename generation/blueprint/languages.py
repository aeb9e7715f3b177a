"""French, Spanish and German for the blueprint model: which language a prompt is in, the words that
give a prompt its shape (markers, "and", articles, verbs) in English terms, the words that type a field,
nouns in the singular, and the app's own interface text in that language.

The planner reads every prompt the English way. A prompt in another language is read through
`structure_words` (only the words that shape the sentence are put in English; the names of things and
fields stay as the person wrote them, accents included) and its field words are typed through
`type_words` ("fréquence d'arrosage" is typed as "watering frequency": an enum of how often).
"""

from __future__ import annotations

import re
import unicodedata

LANGS = ("en", "fr", "es", "de")

# Words only one of the languages uses, to tell them apart.
_MARKS = {
    "fr": {
        "je",
        "veux",
        "une",
        "des",
        "les",
        "pour",
        "avec",
        "mes",
        "et",
        "gérer",
        "suivre",
        "liste",
        "du",
        "d'",
        "dernière",
        "nom",
        "titre",
        "école",
        "élèves",
        "qui",
        "mon",
        "ma",
        "ajoute",
        "ajouter",
        "montant",
    },
    "es": {
        "quiero",
        "una",
        "para",
        "con",
        "mis",
        "los",
        "las",
        "y",
        "gestionar",
        "controlar",
        "lista",
        "aplicación",
        "sus",
        "nombre",
        "fecha",
        "película",
        "películas",
        "añade",
        "añadir",
    },
    "de": {
        "ich",
        "möchte",
        "eine",
        "einen",
        "für",
        "mit",
        "meine",
        "und",
        "der",
        "die",
        "das",
        "titel",
        "datum",
        "füge",
        "hinzu",
        "zuletzt",
        "oder",
        "ein",
    },
}


def detect(text: str) -> str:
    """The prompt's language: "fr", "es", "de", or "en" when none of them clearly wins."""
    words = re.findall(r"[^\W\d_]+(?:'[^\W\d_]+)?|d'", text.lower())
    if not words:
        return "en"
    english = sum(
        w in {"the", "with", "and", "a", "an", "my", "for", "of", "to", "i", "want", "track"} for w in words
    )
    scores = {lang: sum(w in marks for w in words) for lang, marks in _MARKS.items()}
    if re.search(r"[àâçèêëîïôûœ]", text):
        scores["fr"] += 2
    if re.search(r"[ñ¿¡]|ción\b", text):
        scores["es"] += 2
    if re.search(r"[äöüß]", text):
        scores["de"] += 2
    lang, best = max(scores.items(), key=lambda item: item[1])
    return lang if best >= 2 and best > english else "en"


# Sentence-shaping words, put in English so the planner's patterns apply.
_STRUCTURE = {
    "fr": {
        "avec": "with",
        "et": "and",
        "ou": "or",
        "je": "i",
        "veux": "want",
        "voudrais": "want",
        "une": "a",
        "un": "a",
        "des": "",
        "les": "the",
        "le": "the",
        "la": "the",
        "l'": "the",
        "mes": "my",
        "mon": "my",
        "ma": "my",
        "pour": "to",
        "gérer": "manage",
        "suivre": "track",
        "organiser": "organize",
        "application": "app",
        "appli": "app",
        "liste": "list",
        "qui": "that",
        "contient": "with",
        "comprenant": "including",
        "ajoute": "add",
        "ajouter": "add",
        "supprime": "remove",
        "trie": "sort",
        "trier": "sort",
        "par": "by",
        "sombre": "dark",
        "mode": "mode",
        "chaque": "each",
        "a": "has",
        "ont": "have",
        "reliant": "linking",
        "lien": "link",
        "leurs": "their",
        "leur": "their",
        "ses": "its",
    },
    "es": {
        "con": "with",
        "y": "and",
        "e": "and",
        "o": "or",
        "quiero": "i want",
        "una": "a",
        "un": "a",
        "unos": "",
        "unas": "",
        "los": "the",
        "las": "the",
        "el": "the",
        "la": "the",
        "mis": "my",
        "mi": "my",
        "para": "to",
        "gestionar": "manage",
        "controlar": "track",
        "seguir": "track",
        "organizar": "organize",
        "aplicación": "app",
        "app": "app",
        "lista": "list",
        "que": "that",
        "añade": "add",
        "añadir": "add",
        "elimina": "remove",
        "ordena": "sort",
        "ordenar": "sort",
        "por": "by",
        "oscuro": "dark",
        "cada": "each",
        "tiene": "has",
        "tienen": "have",
        "sus": "their",
        "su": "its",
    },
    "de": {
        "mit": "with",
        "und": "and",
        "oder": "or",
        "ich": "i",
        "möchte": "want",
        "will": "want",
        "eine": "a",
        "ein": "a",
        "einen": "a",
        "der": "the",
        "die": "the",
        "das": "the",
        "meine": "my",
        "meinen": "my",
        "mein": "my",
        "für": "for",
        "verwalten": "manage",
        "app": "app",
        "liste": "list",
        "füge": "add",
        "hinzu": "",
        "entferne": "remove",
        "sortiere": "sort",
        "nach": "by",
        "dunkel": "dark",
        "jede": "each",
        "jeder": "each",
        "hat": "has",
        "haben": "have",
        "ihre": "their",
        "in": "in",
        "tagen": "days",
    },
}


def structure_words(text: str, lang: str) -> str:
    """text with its sentence-shaping words in English ("avec" -> "with"); other words as written."""
    if lang == "en":
        return text
    table = _STRUCTURE[lang]

    def swap(match: re.Match) -> str:
        word = match.group(0)
        return table.get(word, word)

    if lang == "fr":
        text = re.sub(r"\b(l)'", r"\1' ", text)
    if lang == "de":  # "Aufgabenliste" is a list of Aufgaben
        text = re.sub(r"\b(\w{3,}?)(liste|verwaltung|sammlung|planer|tracker|app)\b", r"\1 \2", text)
    text = re.sub(r"[^\W\d_]+'?", swap, text)
    return re.sub(r"[ \t]+", " ", text).strip()


# Field words -> English words that type them (the name and label stay as written).
_TYPE_WORDS = {
    "fr": {
        "nom": "name",
        "titre": "title",
        "date": "date",
        "fréquence": "frequency",
        "arrosage": "watering",
        "dernière": "last",
        "dernier": "last",
        "prix": "price",
        "montant": "amount",
        "coût": "cost",
        "quantité": "quantity",
        "catégorie": "category",
        "remarques": "notes",
        "notes": "notes",
        "description": "description",
        "priorité": "priority",
        "échéance": "deadline",
        "statut": "status",
        "auteur": "author",
        "année": "year",
        "classe": "class",
        "retour": "return",
        "email": "email",
        "courriel": "email",
        "téléphone": "phone",
        "adresse": "address",
        "photo": "photo",
        "url": "url",
        "fait": "done",
        "terminé": "done",
        "payé": "paid",
        "note": "rating",
        "commentaire": "comment",
        "durée": "duration",
        "heure": "time",
        "âge": "age",
        "poids": "weight",
    },
    "es": {
        "nombre": "name",
        "título": "title",
        "fecha": "date",
        "ingredientes": "ingredients",
        "tiempo": "time",
        "preparación": "preparation",
        "dificultad": "difficulty",
        "concepto": "name",
        "importe": "amount",
        "precio": "price",
        "pagado": "paid",
        "correo": "email",
        "electrónico": "",
        "teléfono": "phone",
        "número": "number",
        "total": "total",
        "año": "year",
        "género": "genre",
        "valoración": "rating",
        "notas": "notes",
        "descripción": "description",
        "categoría": "category",
        "prioridad": "priority",
        "estado": "status",
        "cantidad": "quantity",
        "hecho": "done",
        "foto": "photo",
        "dirección": "address",
        "duración": "duration",
    },
    "de": {
        "name": "name",
        "titel": "title",
        "datum": "date",
        "autor": "author",
        "seitenzahl": "pages",
        "bewertung": "rating",
        "priorität": "priority",
        "erledigt": "done",
        "e-mail": "email",
        "eintrittsdatum": "date",
        "betrag": "amount",
        "mitglied": "member",
        "standort": "location",
        "gießintervall": "interval",
        "zuletzt": "last",
        "gegossen": "watered",
        "preis": "price",
        "menge": "quantity",
        "notizen": "notes",
        "beschreibung": "description",
        "kategorie": "category",
        "status": "status",
        "telefon": "phone",
        "adresse": "address",
        "bezahlt": "paid",
        "foto": "photo",
        "dauer": "duration",
        "fälligkeitsdatum": "due date",
        "anzahl": "count",
        "zutaten": "ingredients",
        "anleitung": "instructions",
        "zubereitung": "instructions",
    },
}
# German compounds: how a word ends says what it is ("Fälligkeitsdatum" is a date).
_DE_SUFFIXES = [
    ("datum", "date"),
    ("zahl", "number"),
    ("preis", "price"),
    ("betrag", "amount"),
    ("kosten", "cost"),
    ("dauer", "duration"),
    ("intervall", "interval"),
    ("notizen", "notes"),
    ("zeit", "time"),
]


def type_words(words: list[str], lang: str) -> list[str]:
    """A field phrase's words in English, in English order, for typing ("date de retour" -> "return
    date"); words it does not know stay as they are."""
    if lang == "en":
        return words
    table = _TYPE_WORDS[lang]
    if lang in ("fr", "es") and ("de" in words or any(w.startswith("d'") for w in words)):
        # "fréquence d'arrosage" = "watering frequency": the head noun comes first in French and Spanish.
        split = next(i for i, w in enumerate(words) if w == "de" or w.startswith("d'"))
        tail = words[split + 1 :] if words[split] == "de" else [words[split][2:], *words[split + 1 :]]
        words = tail + words[:split]
    out = []
    for word in words:
        english = table.get(word)
        if english is None and lang == "de":
            english = next((en for suffix, en in _DE_SUFFIXES if word.endswith(suffix)), None)
        out += (english if english is not None else word).split()
    return [w for w in out if w] or words


_IRREGULAR = {
    "fr": {"élèves": "élève", "yeux": "œil"},
    "es": {},
    "de": {
        "bücher": "buch",
        "mitglieder": "mitglied",
        "beiträge": "beitrag",
        "häuser": "haus",
        "schüler": "schüler",
        "lehrer": "lehrer",
        "filme": "film",
        "rezepte": "rezept",
        "termine": "termin",
        "projekte": "projekt",
        "kunden": "kunde",
        "spiele": "spiel",
        "länder": "land",
    },
}


def singularise(word: str, lang: str) -> str | None:
    """The singular of a noun in fr / es / de (None for English: the planner's own rules apply)."""
    if lang == "en":
        return None
    if word in _IRREGULAR[lang]:
        return _IRREGULAR[lang][word]
    if lang == "fr":
        if word.endswith("eaux"):
            return word[:-1]
        if word.endswith("aux") and len(word) > 4:
            return word[:-3] + "al"
        return word[:-1] if word.endswith(("s", "x")) and len(word) > 3 else word
    if lang == "es":
        if word.endswith("es") and len(word) > 4 and word[-3] in "dlnrzj":
            return word[:-2]
        return word[:-1] if word.endswith("s") and len(word) > 3 else word
    if word.endswith("ungen"):
        return word[:-2]
    if word.endswith("en") and len(word) > 5:
        return word[:-1]  # "Pflanzen" -> "Pflanze", "Aufgaben" -> "Aufgabe"
    return word


def ascii_fold(text: str) -> str:
    """'Fréquence' -> 'Frequence', 'Gießintervall' -> 'Giessintervall': for names code uses."""
    text = text.replace("ß", "ss").replace("œ", "oe").replace("æ", "ae")
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def capitalise_noun(noun: str, lang: str) -> str:
    """German nouns keep their capital letter wherever they are shown."""
    return noun[:1].upper() + noun[1:] if lang == "de" else noun


# The app's interface text, per language ({one} / {many}: the entity's nouns).
UI = {
    "en": {
        "add": "Add",
        "new": "New {one}",
        "search": "Search {many}…",
        "empty": "No {many} yet. Add your first one above.",
        "no_match": "No {many} match your filters.",
        "loading": "Loading…",
        "delete": "Delete",
        "all": "All",
        "none": "—",
        "min": "from",
        "max": "to",
        "total": "Total",
        "count": "Count",
        "average": "Average",
        "minimum": "Lowest",
        "maximum": "Highest",
        "remaining": "left",
        "sections": "Sections",
        "not": "Not {label}",
    },
    "fr": {
        "add": "Ajouter",
        "new": "Nouveau : {one}",
        "search": "Rechercher…",
        "empty": "Aucun élément pour l'instant. Ajoutez le premier ci-dessus.",
        "no_match": "Aucun élément ne correspond.",
        "loading": "Chargement…",
        "delete": "Supprimer",
        "all": "Tous",
        "none": "—",
        "min": "de",
        "max": "à",
        "total": "Total",
        "count": "Nombre",
        "average": "Moyenne",
        "minimum": "Minimum",
        "maximum": "Maximum",
        "remaining": "restant(s)",
        "sections": "Sections",
        "not": "Non {label}",
    },
    "es": {
        "add": "Añadir",
        "new": "Nuevo: {one}",
        "search": "Buscar…",
        "empty": "Todavía no hay nada. Añade el primero arriba.",
        "no_match": "Nada coincide con los filtros.",
        "loading": "Cargando…",
        "delete": "Eliminar",
        "all": "Todos",
        "none": "—",
        "min": "desde",
        "max": "hasta",
        "total": "Total",
        "count": "Cantidad",
        "average": "Media",
        "minimum": "Mínimo",
        "maximum": "Máximo",
        "remaining": "restantes",
        "sections": "Secciones",
        "not": "No {label}",
    },
    "de": {
        "add": "Hinzufügen",
        "new": "Neu: {one}",
        "search": "Suchen…",
        "empty": "Noch nichts da. Füge oben den ersten Eintrag hinzu.",
        "no_match": "Nichts passt zu den Filtern.",
        "loading": "Lädt…",
        "delete": "Löschen",
        "all": "Alle",
        "none": "—",
        "min": "von",
        "max": "bis",
        "total": "Summe",
        "count": "Anzahl",
        "average": "Durchschnitt",
        "minimum": "Minimum",
        "maximum": "Maximum",
        "remaining": "übrig",
        "sections": "Bereiche",
        "not": "Nicht {label}",
    },
}

# The explanation's sentences, per language.
EXPLAIN = {
    "en": {
        "built": "I built {name}: a React app that keeps {things} through Kiln's entity API, so they are saved on the server and survive a reload.",
        "each": "Each {entity} has {fields}.",
        "links": "{child} link to {parent}: pick one from a list, and each {parent_one} shows its {child_many}.",
        "open": "Open the preview and add your first {one} to try it.",
        "changed": "I changed the app as you asked.",
        "cannot": "",
        "see": "Open the preview to see the change.",
    },
    "fr": {
        "built": "J'ai créé {name} : une application React qui enregistre {things} via l'API d'entités de Kiln ; tout est sauvegardé sur le serveur et survit à un rechargement.",
        "each": "Chaque {entity} a : {fields}.",
        "links": "{child} renvoient à {parent} : on le choisit dans une liste, et chaque {parent_one} affiche ses {child_many}.",
        "open": "Ouvrez l'aperçu et ajoutez un premier élément pour l'essayer.",
        "changed": "J'ai modifié l'application comme demandé.",
        "cannot": "Le modèle hors ligne ne sait pas faire cette modification ; l'application reste telle quelle. "
        "Il sait par exemple ajouter, supprimer ou renommer un champ, trier, filtrer, afficher un tableau par "
        "statut, des totaux ou un graphique, colorer des lignes, changer le thème. (Détails en anglais :)",
        "see": "Ouvrez l'aperçu pour voir le changement.",
    },
    "es": {
        "built": "He creado {name}: una aplicación React que guarda {things} con la API de entidades de Kiln; todo se guarda en el servidor y sobrevive a una recarga.",
        "each": "Cada {entity} tiene: {fields}.",
        "links": "{child} enlazan con {parent}: se elige de una lista, y cada {parent_one} muestra sus {child_many}.",
        "open": "Abre la vista previa y añade el primer elemento para probarla.",
        "changed": "He cambiado la aplicación como pediste.",
        "cannot": "El modelo sin conexión no sabe hacer ese cambio; la aplicación queda como estaba. Sabe, por "
        "ejemplo, añadir, quitar o renombrar un campo, ordenar, filtrar, mostrar un tablero por estado, totales o "
        "un gráfico, colorear filas y cambiar el tema. (Detalles en inglés:)",
        "see": "Abre la vista previa para ver el cambio.",
    },
    "de": {
        "built": "Ich habe {name} gebaut: eine React-App, die {things} über Kilns Entity-API speichert; alles bleibt auf dem Server und übersteht ein Neuladen.",
        "each": "Jede(r) {entity} hat: {fields}.",
        "links": "{child} verweisen auf {parent}: aus einer Liste wählbar, und jede(r) {parent_one} zeigt die zugehörigen {child_many}.",
        "open": "Öffne die Vorschau und füge den ersten Eintrag hinzu, um sie auszuprobieren.",
        "changed": "Ich habe die App wie gewünscht geändert.",
        "cannot": "Das Offline-Modell kann diese Änderung nicht vornehmen; die App bleibt, wie sie ist. Es kann "
        "zum Beispiel Felder hinzufügen, entfernen oder umbenennen, sortieren, filtern, eine Tafel nach Status, "
        "Summen oder ein Diagramm zeigen, Zeilen einfärben und das Thema ändern. (Einzelheiten auf Englisch:)",
        "see": "Öffne die Vorschau, um die Änderung zu sehen.",
    },
}

"""Word lists the planner reads prompts with. Plain data, kept apart so the rules stay readable."""

# A field: (name, type, extra). extra may hold "values" (enum), "unit", "input" (an HTML input type).

# App kinds a person commonly asks for. keywords are matched as whole words in the part of the
# prompt that names the app (before "with ..."); the earliest match wins, a longer one on a tie.
KINDS = [
    {
        "keywords": ["todo", "to-do", "to do", "todos", "task", "tasks", "checklist"],
        "entity": "Task", "app": "Todo list", "title": "title",
        "defaults": [], "always": ["done"],
    },
    {
        "keywords": ["chore", "chores"], "entity": "Chore", "app": "Chore chart", "title": "title",
        "defaults": ["assigned to", "due date"], "always": ["done"],
    },
    {
        "keywords": ["recipe", "recipes", "cookbook"], "entity": "Recipe", "app": "Recipe book", "title": "name",
        "defaults": ["ingredients", "instructions", "cooking time", "servings"],
    },
    {
        "keywords": ["workout", "workouts", "gym", "exercise log", "training log"], "entity": "Workout",
        "app": "Workout log", "title": "exercise", "defaults": ["date", "sets", "reps", "weight"],
    },
    {
        "keywords": ["contact", "contacts", "address book", "rolodex"], "entity": "Contact",
        "app": "Contact manager", "title": "name", "defaults": ["email", "phone", "notes"],
    },
    {
        "keywords": ["expense", "expenses", "spending", "budget", "budgets"], "entity": "Expense",
        "app": "Expense tracker", "title": "description", "defaults": ["amount", "date", "category"],
    },
    {
        "keywords": ["reading list", "book", "books", "bookshelf"], "entity": "Book", "app": "Reading list",
        "title": "title", "defaults": ["author", "pages", "rating", "read"],
    },
    {
        "keywords": ["movie", "movies", "film", "films", "watchlist"], "entity": "Movie", "app": "Movie watchlist",
        "title": "title", "defaults": ["year", "genre", "watched", "rating"],
    },
    {
        "keywords": ["note", "notes", "notebook", "notepad"], "entity": "Note", "app": "Notes",
        "title": "title", "defaults": ["body", "pinned"],
    },
    {
        "keywords": ["journal", "diary"], "entity": "Entry", "app": "Journal", "title": "title",
        "defaults": ["date", "mood", "body"],
    },
    {
        "keywords": ["habit", "habits"], "entity": "Habit", "app": "Habit tracker", "title": "name",
        "defaults": ["frequency", "streak", "done today"],
    },
    {
        "keywords": ["event", "events", "calendar", "appointment", "appointments", "meeting", "meetings"],
        "entity": "Event", "app": "Event planner", "title": "title", "defaults": ["date", "location", "notes"],
    },
    {
        "keywords": ["inventory", "stock", "product", "products", "warehouse"], "entity": "Product",
        "app": "Inventory", "title": "name", "defaults": ["quantity", "price", "category"],
    },
    {
        "keywords": ["grocery", "groceries", "shopping list", "shopping"], "entity": "Item",
        "app": "Shopping list", "title": "name", "defaults": ["quantity"], "always": ["bought"],
    },
    {
        "keywords": ["packing list", "packing"], "entity": "Item", "app": "Packing list", "title": "name",
        "defaults": ["quantity"], "always": ["packed"],
    },
    {
        "keywords": ["bookmark", "bookmarks", "links", "reading later"], "entity": "Bookmark",
        "app": "Bookmarks", "title": "title", "defaults": ["url", "tags", "notes"],
    },
    {
        "keywords": ["job application", "job applications", "job hunt", "job search", "applications"],
        "entity": "Application", "app": "Job applications", "title": "company",
        "defaults": ["role", "status", "applied on"],
    },
    {
        "keywords": ["plant", "plants", "garden"], "entity": "Plant", "app": "Plant care", "title": "name",
        "defaults": ["species", "last watered", "water every days"],
    },
    {
        "keywords": ["meal", "meals", "calorie", "calories", "food diary"], "entity": "Meal",
        "app": "Meal log", "title": "name", "defaults": ["date", "calories"],
    },
    {
        "keywords": ["bug", "bugs", "ticket", "tickets", "issue tracker", "issues", "support desk"],
        "entity": "Ticket", "app": "Issue tracker", "title": "title", "defaults": ["status", "priority", "description"],
    },
    {
        "keywords": ["customer", "customers", "client", "clients", "crm", "lead", "leads"], "entity": "Customer",
        "app": "Customer list", "title": "name", "defaults": ["email", "phone", "company"],
    },
    {
        "keywords": ["invoice", "invoices", "billing"], "entity": "Invoice", "app": "Invoices",
        "title": "client", "defaults": ["amount", "due date", "paid"],
    },
    {
        "keywords": ["goal", "goals", "resolutions"], "entity": "Goal", "app": "Goals", "title": "title",
        "defaults": ["target date", "achieved"],
    },
    {
        "keywords": ["flashcard", "flashcards", "vocabulary", "vocab"], "entity": "Card", "app": "Flashcards",
        "title": "front", "defaults": ["back"],
    },
    {
        "keywords": ["birthday", "birthdays"], "entity": "Birthday", "app": "Birthday reminders",
        "title": "name", "defaults": ["birthday", "gift ideas"],
    },
    {
        "keywords": ["pet", "pets"], "entity": "Pet", "app": "Pet records", "title": "name",
        "defaults": ["species", "birthday", "notes"],
    },
    {
        "keywords": ["project", "projects"], "entity": "Project", "app": "Projects", "title": "name",
        "defaults": ["status", "deadline", "description"],
    },
    {
        "keywords": ["student", "students", "class roster", "roster"], "entity": "Student", "app": "Class roster",
        "title": "name", "defaults": ["email", "grade"],
    },
    {
        "keywords": ["restaurant", "restaurants"], "entity": "Restaurant", "app": "Restaurant list",
        "title": "name", "defaults": ["cuisine", "rating", "visited"],
    },
    {
        "keywords": ["trip", "trips", "travel", "vacation", "vacations"], "entity": "Trip", "app": "Trip planner",
        "title": "destination", "defaults": ["start date", "end date", "budget"],
    },
    {
        "keywords": ["game", "games", "board games"], "entity": "Game", "app": "Game collection", "title": "title",
        "defaults": ["platform", "rating", "played"],
    },
    {
        "keywords": ["subscription", "subscriptions"], "entity": "Subscription", "app": "Subscriptions",
        "title": "name", "defaults": ["price", "renewal date", "active"],
    },
    {
        "keywords": ["password", "passwords"], "entity": "Account", "app": "Accounts", "title": "site",
        "defaults": ["username", "notes"],
    },
]

# Words that name an app rather than the thing it holds ("a plant watering *tracker*").
APP_SUFFIXES = {
    "list", "lists", "tracker", "trackers", "manager", "log", "logger", "book", "journal", "planner",
    "catalog", "catalogue", "organizer", "organiser", "diary", "collection", "database", "db", "app",
    "application", "board", "dashboard", "registry", "library", "inventory", "keeper", "directory",
    "system", "tool", "site", "website", "page", "portal", "crm", "hub", "archive", "register",
    "cellar", "closet", "pantry", "wardrobe", "shelf", "fridge", "binder", "box", "vault", "notebook",
}

# Words that describe how, not what: dropped from noun phrases.
FILLER = {
    "a", "an", "the", "my", "our", "your", "their", "his", "her", "its", "all", "some", "simple", "small",
    "little", "basic", "nice", "clean", "modern", "beautiful", "minimal", "minimalist", "personal", "new",
    "own", "web", "online", "each", "every", "of", "for", "me", "us", "to", "and", "or", "just", "quick",
    "tiny", "cute", "fun", "cool", "pretty", "great", "good", "single", "one", "page", "this", "that",
    "please", "i", "we", "you", "can", "could", "would", "want", "need", "like", "let", "lets", "help",
    "helps", "which", "where", "so", "in", "on", "by", "about", "different", "various", "favorite",
    "favourite", "daily", "weekly", "monthly", "upcoming", "other", "any", "many", "few", "more", "very",
    "really", "keep", "keeps", "kept", "it", "them", "they", "these", "those", "be", "is", "are", "am",
    "hello", "hi", "hey", "thanks", "thank", "ok", "okay", "something", "thing", "things", "stuff",
}

# Kind keywords that name the thing itself: "a bug tracker" keeps Bugs, not the kind's Tickets.
KEYWORD_ENTITY = {
    "bug": "Bug", "bugs": "Bug", "issues": "Issue", "issue tracker": "Issue", "film": "Film", "films": "Film",
    "client": "Client", "clients": "Client", "lead": "Lead", "leads": "Lead", "appointment": "Appointment",
    "appointments": "Appointment", "meeting": "Meeting", "meetings": "Meeting", "flashcard": "Flashcard",
    "flashcards": "Flashcard", "product": "Product", "products": "Product", "game": "Game", "board games": "Game",
    "goal": "Goal", "resolutions": "Resolution", "vacation": "Vacation", "vacations": "Vacation",
}

# Action words: a phrase made of them (and the entity's own name) is not a field.
VERBS = {
    "add", "adding", "edit", "editing", "delete", "deleting", "remove", "removing", "tick", "ticking",
    "check", "checking", "uncheck", "mark", "marking", "update", "updating", "view", "viewing", "see",
    "search", "searching", "filter", "filtering", "sort", "sorting", "track", "tracking", "create",
    "creating", "manage", "managing", "record", "recording", "log", "logging", "browse", "browsing",
    "rate", "complete", "completing", "archive", "star", "organize", "organise", "store", "storing", "save",
    "saving", "list", "listing", "show", "showing", "display", "keep", "write", "writing", "note", "plan",
    "planning", "enter", "entering", "put", "set", "change", "cross", "off", "out", "as", "done",
    "finished", "upload", "export", "import", "share", "sharing", "find", "finding", "look", "up",
    "build", "make", "give", "get", "have", "has", "hold", "holds", "contain", "contains", "include",
    "includes", "stores", "tracks", "lets", "allow", "allows", "want", "need",
}

# Prompt words that introduce the list of fields.
ATTRIBUTE_MARKERS = [
    r"\bwith(?: their| its| a| an| the)?\b", r"\bincluding\b", r"\bthat (?:has|have|stores?|tracks?|records?)\b",
    r"\bstoring\b", r"\bhaving\b", r"\bcontaining\b", r"\bfields?\s*:?", r"\bcolumns?\s*:?",
    r"\beach (?:\w+ )?(?:has|with|having)\b", r"\brecording\b", r"\blogging\b", r"\btracking\b",
    r"\bproperties\s*:?", r"\battributes\s*:?", r"\bcapturing\b",
]

# Words that end a field phrase: what follows is a clause, not part of the name.
CLAUSE_BREAKS = {
    "i", "we", "you", "that", "which", "who", "so", "where", "when", "to", "for", "because", "if", "then",
    "using", "via", "per",
}

IRREGULAR_SINGULAR = {
    "people": "person", "children": "child", "men": "man", "women": "woman", "mice": "mouse",
    "geese": "goose", "feet": "foot", "teeth": "tooth", "movies": "movie", "cookies": "cookie",
    "series": "series", "species": "species", "news": "news", "calories": "calorie", "notes": "note",
    "recipes": "recipe", "quizzes": "quiz", "analyses": "analysis", "indices": "index",
    "statuses": "status", "buses": "bus", "boxes": "box", "sheep": "sheep", "fish": "fish",
    "diaries": "diary", "stories": "story", "pies": "pie", "ties": "tie", "lies": "lie",
    "data": "data", "media": "media", "glasses": "glasses", "clothes": "clothes", "sales": "sale",
}

# --- Field type inference ----------------------------------------------------------------------------

# Whole phrases first: (name, type, extra).
PHRASES = {
    "due date": ("due_date", "date", {}),
    "due": ("due_date", "date", {}),
    "deadline": ("deadline", "date", {}),
    "date of birth": ("birthday", "date", {}),
    "dob": ("birthday", "date", {}),
    "phone number": ("phone", "string", {"input": "tel"}),
    "telephone": ("phone", "string", {"input": "tel"}),
    "mobile": ("phone", "string", {"input": "tel"}),
    "email address": ("email", "string", {"input": "email"}),
    "e-mail": ("email", "string", {"input": "email"}),
    "website": ("website", "string", {"input": "url"}),
    "web site": ("website", "string", {"input": "url"}),
    "link": ("url", "string", {"input": "url"}),
    "url": ("url", "string", {"input": "url"}),
    "number of pages": ("pages", "integer", {}),
    "page count": ("pages", "integer", {}),
    "number of servings": ("servings", "integer", {}),
    "in stock": ("in_stock", "boolean", {}),
    "done today": ("done_today", "boolean", {}),
    "start time": ("start_time", "datetime", {}),
    "end time": ("end_time", "datetime", {}),
    "time": ("time", "string", {"input": "time"}),
    "cooking time": ("cooking_time", "integer", {"unit": "minutes"}),
    "prep time": ("prep_time", "integer", {"unit": "minutes"}),
    "preparation time": ("prep_time", "integer", {"unit": "minutes"}),
    "cook time": ("cooking_time", "integer", {"unit": "minutes"}),
    "reading time": ("reading_time", "integer", {"unit": "minutes"}),
    "run time": ("runtime", "integer", {"unit": "minutes"}),
    "runtime": ("runtime", "integer", {"unit": "minutes"}),
    "water every days": ("water_every_days", "integer", {"unit": "days"}),
    "assigned to": ("assigned_to", "string", {}),
    "gift ideas": ("gift_ideas", "text", {}),
    "done": ("done", "boolean", {}),
}

DATE_WORDS = {"date", "birthday", "anniversary", "deadline", "due", "day", "dated", "on"}
DATETIME_WORDS = {"datetime", "timestamp", "when"}
MINUTE_WORDS = {"duration", "minutes", "mins", "minute"}
INTEGER_WORDS = {
    "count", "qty", "quantity", "sets", "reps", "repetitions", "minutes", "age", "rating", "stars", "score",
    "pages", "year", "servings", "calories", "points", "stock", "streak", "hours", "days", "laps", "rank",
    "floor", "seats", "guests", "attendees", "copies", "units", "level", "votes", "chapters", "episodes",
    "season", "grade", "portions", "number", "capacity",
}
NUMBER_WORDS = {
    "price", "cost", "amount", "total", "balance", "salary", "budget", "weight", "distance", "height",
    "width", "length", "value", "fee", "spent", "temperature", "rate", "income", "revenue", "pay",
    "km", "miles", "kg", "lbs", "pace", "speed", "percent", "percentage", "tip", "rent", "charge",
}
BOOLEAN_WORDS = {
    "done", "completed", "complete", "ticked", "checked", "paid", "active", "read", "watched", "visited",
    "favorite", "favourite", "archived", "published", "available", "bought", "purchased", "packed",
    "attended", "returned", "approved", "finished", "urgent", "important", "pinned", "starred", "verified",
    "vegetarian", "vegan", "enabled", "played", "achieved", "owned", "confirmed", "signed", "cleaned",
    "sent", "received", "private", "public", "shared", "resolved", "booked", "married", "subscribed",
}
TEXT_WORDS = {
    "description", "notes", "note", "ingredients", "body", "content", "details", "summary", "comments",
    "comment", "instructions", "steps", "bio", "address", "review", "message", "text",
    "directions", "reflection", "thoughts", "feedback", "answer", "back", "agenda", "symptoms",
    "ideas", "lyrics", "recipe", "story", "memo", "remarks",
}

# Enum fields and their usual values. (entity-specific values first, then the general ones.)
ENUM_VALUES = {
    ("Task", "status"): ["todo", "doing", "done"],
    ("Application", "status"): ["applied", "interview", "offer", "rejected"],
    ("Ticket", "status"): ["open", "in progress", "closed"],
    ("Project", "status"): ["planned", "active", "on hold", "done"],
    ("Order", "status"): ["pending", "shipped", "delivered", "cancelled"],
    ("Expense", "category"): ["food", "transport", "housing", "bills", "fun", "other"],
    ("Product", "category"): ["general", "electronics", "clothing", "food", "other"],
    ("Book", "status"): ["to read", "reading", "finished"],
    (None, "status"): ["planned", "in progress", "done"],
    (None, "priority"): ["low", "medium", "high"],
    (None, "mood"): ["great", "good", "okay", "bad"],
    (None, "difficulty"): ["easy", "medium", "hard"],
    (None, "size"): ["small", "medium", "large"],
    (None, "frequency"): ["daily", "weekly", "monthly"],
    (None, "severity"): ["low", "medium", "high", "critical"],
    (None, "stage"): ["idea", "started", "finished"],
    (None, "meal"): ["breakfast", "lunch", "dinner", "snack"],
    (None, "meal type"): ["breakfast", "lunch", "dinner", "snack"],
    (None, "condition"): ["new", "good", "worn"],
    (None, "intensity"): ["light", "moderate", "hard"],
}

# Names that make a good title for the record (the required first field).
TITLE_NAMES = {
    "name", "title", "subject", "exercise", "company", "label", "headline", "question", "front", "word",
    "term", "destination", "site", "client", "item", "product", "dish", "activity", "task", "topic",
    "full_name", "first_name",
}

# Generic things are named; things you do or read are titled.
TITLED_NOUNS = {
    "task", "note", "book", "movie", "film", "event", "post", "article", "idea", "song", "episode",
    "podcast", "goal", "entry", "ticket", "bug", "issue", "lesson", "course", "video", "story", "chore",
    "meeting", "reminder", "question", "quote", "poem", "paper", "album", "show",
}

ACCENTS = {
    "indigo": "#4f46e5", "teal": "#0d9488", "pink": "#db2777", "orange": "#ea580c", "blue": "#2563eb",
    "green": "#16a34a", "violet": "#7c3aed", "purple": "#9333ea", "red": "#dc2626", "amber": "#d97706",
    "cyan": "#0891b2", "rose": "#e11d48", "emerald": "#059669", "sky": "#0284c7", "slate": "#475569",
    "yellow": "#ca8a04", "brown": "#92400e", "black": "#111827", "gray": "#4b5563", "grey": "#4b5563",
}

"""Small curated word banks for realistic field values where Faker has nothing fitting (or too generic).

Kept as plain tuples so generation stays deterministic for a seed, whatever the Faker version.
"""

from __future__ import annotations

FIRST_NAMES = (
    "Alex", "Maria", "James", "Priya", "Chen", "Fatima", "Liam", "Sofia", "Noah", "Aisha", "Lucas", "Emma",
    "Mateo", "Yuki", "Omar", "Hannah", "Diego", "Chloe", "Ivan", "Grace", "Kofi", "Elena", "Ravi", "Nina",
    "Samuel", "Leila", "Tom", "Zoe", "Arjun", "Mia",
)

JOB_TITLES = (
    "Software Engineer", "Senior Software Engineer", "Product Manager", "Data Analyst", "Data Scientist",
    "Engineering Manager", "UX Designer", "QA Engineer", "DevOps Engineer", "Account Executive",
    "Marketing Manager", "Sales Director", "HR Business Partner", "Financial Analyst", "Operations Manager",
    "Customer Success Manager", "Technical Writer", "Solutions Architect", "Office Manager", "CTO", "CFO",
    "VP of Engineering", "Head of Product", "Security Engineer", "Support Specialist",
)
MEETING_ROLES = ("Organizer", "Presenter", "Note taker", "Attendee", "Facilitator", "Guest", "Stakeholder")
PROJECT_ROLES = ("Developer", "Tech Lead", "QA", "Designer", "Project Manager", "Analyst", "Reviewer", "Owner")
DEPARTMENTS = (
    "Engineering", "Marketing", "Sales", "Finance", "Human Resources", "Operations", "Customer Support",
    "Legal", "Research and Development", "Product", "IT", "Procurement", "Design", "Data Science",
)
TEAM_ADJECTIVES = ("Platform", "Growth", "Payments", "Mobile", "Infrastructure", "Search", "Checkout", "Data",
                   "Identity", "Analytics", "Frontend", "Backend", "Onboarding", "Billing", "Security")
PROJECT_CODENAMES = ("Atlas", "Phoenix", "Orion", "Mercury", "Aurora", "Falcon", "Nimbus", "Titan", "Zephyr",
                     "Horizon", "Polaris", "Cobalt", "Everest", "Beacon", "Quasar")
SPECIALTIES = ("Cardiology", "Dermatology", "Family Medicine", "Internal Medicine", "Pediatrics", "Neurology",
               "Orthopedics", "Oncology", "Endocrinology", "Gastroenterology", "Psychiatry", "Pulmonology",
               "Radiology", "Emergency Medicine", "Obstetrics and Gynecology")
MEDICATIONS = ("Amoxicillin", "Lisinopril", "Metformin", "Atorvastatin", "Ibuprofen", "Omeprazole",
               "Amlodipine", "Albuterol", "Sertraline", "Levothyroxine", "Prednisone", "Azithromycin",
               "Losartan", "Gabapentin", "Cetirizine", "Paracetamol")
DOSAGES = ("500 mg", "250 mg", "10 mg", "20 mg", "5 mg", "40 mg", "100 mg", "1 tablet", "2 puffs", "850 mg",
           "400 mg", "0.5 mg", "75 mcg", "15 ml")
FREQUENCIES = ("once daily", "twice daily", "three times a day", "every 8 hours", "every 6 hours as needed",
               "at bedtime", "once weekly", "every morning", "as needed")
DURATIONS = ("7 days", "10 days", "14 days", "5 days", "30 days", "3 months", "2 weeks", "ongoing", "1 month")
DIAGNOSES = (
    ("J45.909", "Asthma, uncomplicated"), ("E11.9", "Type 2 diabetes mellitus without complications"),
    ("I10", "Essential hypertension"), ("J06.9", "Acute upper respiratory infection"),
    ("M54.5", "Low back pain"), ("K21.9", "Gastro-esophageal reflux disease"), ("F41.1", "Generalized anxiety disorder"),
    ("R51.9", "Headache"), ("J02.9", "Acute pharyngitis"), ("N39.0", "Urinary tract infection"),
    ("E78.5", "Hyperlipidemia"), ("L20.9", "Atopic dermatitis"), ("S93.401A", "Sprain of ankle ligament"),
)
LAB_TESTS = (("CBC", "Complete Blood Count"), ("CMP", "Comprehensive Metabolic Panel"), ("BMP", "Basic Metabolic Panel"),
             ("LIPID", "Lipid Panel"), ("A1C", "Hemoglobin A1c"), ("TSH", "Thyroid Stimulating Hormone"),
             ("UA", "Urinalysis"), ("CRP", "C-Reactive Protein"), ("VITD", "Vitamin D, 25-Hydroxy"))
LAB_CODES = ("2345-7", "718-7", "4548-4", "2093-3", "3016-3", "1742-6", "6690-2", "789-8", "2160-0", "17861-6")
LAB_PARAMETERS = (("Glucose", "mg/dL", "70-99"), ("Hemoglobin", "g/dL", "13.5-17.5"), ("WBC", "x10^9/L", "4.5-11.0"),
                  ("Platelets", "x10^9/L", "150-450"), ("Sodium", "mmol/L", "135-145"), ("Potassium", "mmol/L", "3.5-5.1"),
                  ("Creatinine", "mg/dL", "0.6-1.2"), ("Total Cholesterol", "mg/dL", "<200"), ("LDL", "mg/dL", "<100"),
                  ("HDL", "mg/dL", ">40"), ("ALT", "U/L", "7-56"), ("TSH", "mIU/L", "0.4-4.0"), ("HbA1c", "%", "4.0-5.6"))
COMPLAINTS = ("Persistent cough for three days", "Chest pain when climbing stairs", "Headache and mild fever",
              "Lower back pain after lifting", "Sore throat and difficulty swallowing", "Skin rash on both arms",
              "Shortness of breath at night", "Follow-up for blood pressure", "Dizziness when standing up",
              "Ankle swelling after a fall", "Annual physical exam", "Fatigue and poor sleep")
HPI_NOTES = ("Symptoms started two days ago and worsen in the evening.",
             "Pain is rated 6 out of 10 and improves with rest.", "No fever or chills reported.",
             "Cough began last week after a cold; now productive.", "Gradual onset over the past month.",
             "Patient reports no known drug allergies.")
EXAM_FINDINGS = ("Lungs clear to auscultation bilaterally.", "Mild tenderness over the lumbar spine, no neurological deficit.",
                 "Vital signs stable; patient alert and oriented.", "Throat erythematous, no exudate.",
                 "Regular heart rate and rhythm, no murmurs.", "Swelling of the left ankle, full range of motion.")
CARE_INSTRUCTIONS = ("Take with food and avoid alcohol.", "Advised rest, fluids and a follow-up visit.",
                     "Recheck labs in six weeks.", "Take one tablet in the morning with water.",
                     "Stop if a rash develops and call the clinic.", "Finish the full course even if symptoms improve.")
CLINICAL_NOTES = HPI_NOTES + EXAM_FINDINGS + CARE_INSTRUCTIONS
INSURERS = ("Blue Cross Blue Shield", "Aetna", "Cigna", "UnitedHealthcare", "Kaiser Permanente", "Humana",
            "Allianz Care", "AXA Health", "Bupa", "Medicare")
BANKS = ("First National Bank", "Riverside Credit Union", "Summit Savings Bank", "Harbor Trust", "Metro Bank",
         "Northern Federal", "Pacific Commerce Bank", "Union Savings", "Citadel Bank", "Lakeshore Bank")
PRODUCT_ADJECTIVES = ("Wireless", "Stainless Steel", "Organic", "Ergonomic", "Portable", "Compact", "Waterproof",
                      "Smart", "Bamboo", "Ceramic", "Leather", "Rechargeable", "Adjustable", "Insulated", "Foldable")
PRODUCT_NOUNS = ("Headphones", "Water Bottle", "Desk Lamp", "Office Chair", "Backpack", "Coffee Grinder",
                 "Yoga Mat", "Bluetooth Speaker", "Running Shoes", "Phone Case", "Notebook", "Keyboard",
                 "Blender", "Travel Mug", "Monitor Stand", "Throw Blanket", "Sunglasses", "Wall Clock",
                 "Air Purifier", "Cutting Board")
PRODUCT_CATEGORIES = ("Electronics", "Home & Kitchen", "Sports & Outdoors", "Office Supplies", "Books",
                      "Clothing", "Beauty", "Toys", "Grocery", "Garden", "Pet Supplies", "Health")
SPEND_CATEGORIES = ("groceries", "utilities", "dining", "travel", "entertainment", "transportation", "rent",
                    "healthcare", "shopping", "subscriptions", "insurance", "education")
GENERIC_CATEGORIES = ("general", "standard", "premium", "internal", "external", "misc", "priority", "basic")
REGIONS = ("North America", "Europe", "Asia Pacific", "Latin America", "Middle East", "EMEA", "Northeast",
           "Midwest", "West Coast", "Southeast", "Nordics", "DACH")
TIMEZONES = ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles", "Europe/London",
             "Europe/Berlin", "Europe/Paris", "Asia/Tokyo", "Asia/Kolkata", "Asia/Singapore", "Australia/Sydney",
             "America/Sao_Paulo", "Africa/Nairobi", "UTC")
LANGUAGE_CODES = ("en", "es", "fr", "de", "it", "pt", "ja", "zh", "ko", "nl", "sv", "pl", "hi", "ar")
CURRENCIES = ("USD", "EUR", "GBP", "JPY", "CAD", "AUD", "CHF", "INR", "SEK", "BRL", "MXN", "SGD", "NZD", "ZAR")
JURISDICTIONS = ("US-NY", "US-CA", "EU", "UK", "SG", "CH", "US-DE", "CA-ON", "AU-NSW", "DE")
DIETARY = ("vegetarian", "vegan", "gluten-free", "halal", "kosher", "nut allergy", "lactose-free", "pescatarian",
           "no shellfish", "low sodium")
SKILLS = ("Python", "SQL", "Kubernetes", "React", "Go", "Terraform", "Figma", "Data modeling", "Java",
          "Machine learning", "Public speaking", "AWS", "TypeScript", "Rust", "Excel", "Spark")
CAPABILITIES = ("temperature_sensing", "humidity_sensing", "motion_detection", "video_streaming", "remote_control",
                "firmware_update", "night_vision", "energy_monitoring", "door_lock", "dimming", "two_way_audio")
INTERESTS = ("hiking", "photography", "jazz", "cooking", "cycling", "chess", "travel", "gardening", "reading",
             "gaming", "yoga", "running", "painting", "podcasts")
FOCUS_AREAS = ("data quality", "developer experience", "cost reduction", "customer onboarding", "reliability",
               "security compliance", "mobile performance", "search relevance", "automation", "accessibility")
TAG_WORDS = ("urgent", "draft", "review", "finance", "q3", "marketing", "internal", "archived", "featured",
             "sale", "new", "customer", "bug", "docs", "travel", "summer", "howto", "beta", "vip", "backend")
COLORS = ("red", "blue", "green", "black", "white", "silver", "navy", "beige", "teal", "graphite")
STATUSES = ("active", "pending", "completed", "inactive", "in_progress", "cancelled", "on_hold", "approved")
PRIORITIES = ("low", "medium", "high", "urgent")
SEVERITIES = ("low", "medium", "high", "critical")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
SERVICES = ("auth-service", "payment-gateway", "api.orders", "scheduler", "inventory-sync", "web-frontend",
            "notification-worker", "db-migrator", "billing.invoices", "search-indexer")
LOG_MESSAGES = ("Connection to database timed out after 30s", "User login succeeded", "Cache miss for key session",
                "Retrying request to upstream service", "Disk usage above 85 percent on /var",
                "Payment authorization declined by issuer", "Scheduled job completed in 4.2 seconds",
                "Invalid token received from client", "Started worker pool with 8 threads",
                "Rate limit exceeded for API key", "Configuration reloaded from disk",
                "Failed to send email notification", "Order export finished without errors")
NOTIFICATION_TITLES = ("Your order has shipped", "Payment received", "New message from Sam", "Flight check-in is open",
                       "Password changed", "Weekly report ready", "Low battery", "Meeting starts in 10 minutes",
                       "Delivery delayed", "Security alert", "Price drop on your wishlist", "Backup completed")
NOTIFICATION_BODIES = ("Your package is on its way and should arrive tomorrow.", "Tap to view the details.",
                       "We received your payment, thank you!", "Don't forget your appointment this afternoon.",
                       "A new sign-in was detected on your account.", "Your subscription renews next week.",
                       "The item you saved is now 20 percent off.", "Your download has finished.",
                       "Check-in closes two hours before departure.", "Reply now to keep the conversation going.")
REVIEW_TEXTS = ("Great quality and fast shipping, would buy again.", "Works as described but the battery life is short.",
                "Not worth the price, it broke after a week.", "Friendly staff and a clean room.",
                "Exactly what I needed for my home office.", "The setup was confusing but support helped quickly.",
                "Good value, though the color is darker than in the photos.", "Absolutely love it!",
                "Arrived late and the box was damaged.", "Solid product, five stars from me.")
SUPPORT_ISSUES = ("I can't log in after resetting my password.", "I was charged twice for the same order.",
                  "The mobile app crashes when I open settings.", "Please add an export to CSV option.",
                  "My invoice shows the wrong billing address.", "The dashboard has been loading slowly since Monday.",
                  "I need to change the email on my account.", "The sync stopped working after the last update.")
TICKET_SUBJECTS = ("Unable to reset password", "Double charge on my card", "App crashes on startup",
                   "Feature request: dark mode", "Wrong billing address", "Slow dashboard", "Refund status",
                   "Cannot upload attachments", "Account locked", "Question about my plan")
EMAIL_SUBJECTS = ("Q3 budget review", "Re: contract renewal", "Team offsite agenda", "Invoice for March",
                  "Follow-up from today's call", "Updated project timeline", "Welcome aboard!",
                  "Action required: verify your account", "Lunch on Friday?", "Fwd: vendor quote")
MEETING_TITLES = ("Q3 Planning Sync", "Weekly Standup", "Design Review", "Sprint Retrospective", "Budget Review",
                  "Customer Onboarding Kickoff", "Quarterly Business Review", "1:1 Check-in", "Hiring Committee",
                  "Incident Postmortem", "Roadmap Workshop", "Board Prep")
MEETING_NOTES = ("Agreed to move the launch to next sprint.", "Reviewed the open bugs and assigned owners.",
                 "Budget approved pending finance sign-off.", "Discussed hiring plan for two engineers.",
                 "Customer feedback was mostly positive.", "Need to follow up with legal on the contract.",
                 "Demo went well; next step is a pilot.")
TASKS = ("Send the revised budget", "Update the project timeline", "Book the venue", "Draft the release notes",
         "Schedule a follow-up call", "Review the vendor contract", "Fix the login bug", "Prepare the demo")
TRANSACTION_DESCRIPTIONS = ("Grocery purchase", "Monthly rent payment", "Coffee shop", "Online subscription",
                            "Salary deposit", "ATM withdrawal", "Utility bill", "Refund for returned item",
                            "Transfer to savings", "Restaurant dinner", "Train ticket", "Insurance premium")
GENERIC_SENTENCES = ("Please review before the end of the week.", "Everything looks good so far.",
                     "This was requested by the customer.", "Needs a second look from the team.",
                     "Updated after the latest feedback.", "Handle with priority.", "Details are attached.",
                     "Confirmed by phone this morning.", "No further action needed.", "Pending final approval.")
API_MESSAGES = ("Request completed successfully", "Resource created", "Validation failed", "Not found",
                "Unauthorized", "Too many requests", "Internal server error", "Accepted for processing")
ERROR_FIELDS = ("email", "password", "start_date", "quantity", "phone", "username", "zip_code", "amount")
ERROR_MESSAGES = ("must be a valid email address", "is required", "must be at least 8 characters",
                  "must be a positive number", "is already taken", "has an invalid format", "is too long")
EVENT_KINDS = ("Tech Summit", "Developer Conference", "Charity Gala", "Marathon", "Product Launch", "Jazz Festival",
               "Career Fair", "Design Meetup", "Startup Pitch Night", "AI Workshop")
CAMPAIGN_NAMES = ("Spring Sale", "Black Friday", "Back to School", "Summer Launch", "Holiday Gift Guide",
                  "Brand Awareness", "Retargeting", "New Year Promo", "Referral Push", "Webinar Series")
RULE_NAMES = ("Turn off lights at midnight", "Alert on high temperature", "Lock doors when away",
              "Start heating at 6am", "Notify when battery is low", "Close blinds at sunset",
              "Record on motion", "Shut valve on leak")
ACTION_TYPES = ("turn_on", "turn_off", "set_temperature", "send_alert", "lock", "unlock", "start_recording",
                "set_brightness")
ALERT_TYPES = ("high_temperature", "low_battery", "device_offline", "motion_detected", "leak_detected",
               "signal_loss", "firmware_outdated")
OPERATING_MODES = ("auto", "eco", "manual", "away", "performance", "night")
ACCOUNT_TYPES = ("checking", "savings", "business", "escrow", "brokerage")
DEVICE_PLACES = ("Living Room", "Lobby", "Server Room", "Kitchen", "Warehouse", "Front Door", "Garage",
                 "Conference Room", "Floor 2 Hallway", "Greenhouse")
DEVICE_THINGS = ("Thermostat", "Camera", "Motion Sensor", "Smart Plug", "Door Lock", "Hub", "Light Switch",
                 "Air Quality Sensor", "Water Leak Sensor", "Gateway")
MANUFACTURERS = ("Bosch", "Honeywell", "Philips", "Siemens", "Xiaomi", "Netgear", "Ubiquiti", "Schneider Electric",
                 "Ecobee", "Aqara", "TP-Link", "Cisco")
WIFI_BASES = ("Office-WiFi", "HomeNet", "Guest", "Lab-IoT", "Warehouse-Net", "CorpSecure", "Factory-Floor",
              "Studio", "Cafe-Free")
BUILDINGS = ("Building A", "Building B", "Building C", "HQ Tower", "North Wing", "East Campus", "Annex",
             "Block 4", "Main Office")
ROOMS = ("Room 204", "Conference Room B", "Lab 3", "Room 1.12", "Boardroom", "Suite 410", "Studio 2",
         "Meeting Room Orion")
LOCATIONS = ("Conference Room B", "Zoom", "Main Office, 3rd floor", "Google Meet", "Cafeteria", "Room 204",
             "Microsoft Teams", "Client site")
FILE_STEMS = ("report_q3", "invoice_0423", "contract_v2", "photo", "slides", "budget", "meeting_notes",
              "screenshot", "resume")
FILE_TYPES = (("pdf", "application/pdf"), ("png", "image/png"), ("jpg", "image/jpeg"), ("csv", "text/csv"),
              ("docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
              ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
              ("txt", "text/plain"), ("zip", "application/zip"))
GENDERS = ("female", "male", "non-binary")
COUPONS = ("SAVE10", "WELCOME15", "SUMMER20", "FREESHIP", "VIP25", "SPRING5", "BF2024", "NEWUSER")
PURPOSES = ("Invoice payment", "Marketplace order settlement", "Rent deposit", "Freelance services",
            "Equipment purchase", "Escrow for property sale", "Quarterly licensing fee")
WORDS = ("harbor", "summit", "meadow", "cobalt", "lantern", "orbit", "maple", "quartz", "ember", "delta",
         "willow", "granite", "comet", "pixel", "vertex", "aurora", "canyon", "falcon", "ripple", "zenith")
